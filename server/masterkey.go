package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-dev/coffer/envelope"
)

// loadKeyring makes the keyring of the master key and the old master keys
// of a rotation, zeroing the raw keys once it holds them.
func loadKeyring(cfg Config, dbExists bool, log *slog.Logger) (*envelope.Keyring, error) {
	master, err := loadMasterKey(cfg, dbExists, log)
	if err != nil {
		return nil, err
	}
	defer envelope.Zero(master)
	old, err := LoadOldMasterKeys(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, k := range old {
			envelope.Zero(k)
		}
	}()
	return envelope.NewKeyring(master, old...)
}

// loadMasterKey finds the master key, creating DATA/master.key only for a
// data directory without a database.
func loadMasterKey(cfg Config, dbExists bool, log *slog.Logger) ([]byte, error) {
	if cfg.MasterKeyFile != "" {
		return ReadKeyFile(cfg.MasterKeyFile)
	}
	if cfg.MasterKey != "" {
		k, err := envelope.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("COFFER_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	k, err := ReadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	switch {
	case dbExists && cfg.Database != "":
		return nil, fmt.Errorf("refusing to start: the PostgreSQL database holds data but there is no master key (%s is missing); give the key it was created with (every server of one database needs the same one) with --master-key-file or COFFER_MASTER_KEY, or copy master.key into %s", path, cfg.DataDir)
	case dbExists:
		return nil, fmt.Errorf("refusing to start: %s holds a database but no master key (%s is missing); give the key with --master-key-file or COFFER_MASTER_KEY", cfg.DataDir, path)
	}
	k = envelope.GenerateKey()
	if err := WriteSecretFile(path, envelope.EncodeKey(k)+"\n"); err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	log.Info("created a new master key; back it up: without it the data cannot be read", "file", path)
	return k, nil
}

// LoadOldMasterKeys reads the old master keys of a rotation.
func LoadOldMasterKeys(cfg Config) ([][]byte, error) {
	var keys [][]byte
	for _, path := range cfg.OldMasterKeyFiles {
		k, err := ReadKeyFile(path)
		if err != nil {
			for _, k := range keys {
				envelope.Zero(k)
			}
			return nil, fmt.Errorf("old master key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ReadKeyFile reads a master key file: 64 hex digits or base64 of 32
// bytes, surrounding space ignored.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	k, err := envelope.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// WriteSecretFile creates a new 0600 file; it never overwrites one.
func WriteSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
