package esotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esmeta "github.com/external-secrets/external-secrets/apis/meta/v1"
	_ "github.com/external-secrets/external-secrets/pkg/provider/vault" // registers ESO's Vault provider, as the operator does
)

// repoRoot is the coffer repository this module sits in.
const repoRoot = "../../.."

// srv is the coffer server the tests share (each test uses stores of its
// own).
var srv *server

// server is a `coffer server` child process.
type server struct {
	base  string // http://127.0.0.1:PORT
	token string // the root API key
	cmd   *exec.Cmd
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "esotest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// ESO's Provider.NewClient builds a Kubernetes clientset from the
	// ambient configuration before anything else; token auth never calls
	// it, so a kubeconfig naming an unreachable cluster is enough.
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(kubeconfigYAML), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("KUBECONFIG", kubeconfig)
	ctrllog.SetLogger(logr.Discard()) // the provider logs through controller-runtime
	for _, v := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_AGENT_ADDR"} {
		os.Unsetenv(v)
	}
	bin := filepath.Join(tmp, "coffer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/coffer")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "esotest: go build ./cmd/coffer: %v\n%s", err, out)
		return 1
	}
	srv, err = startServer(bin, filepath.Join(tmp, "data"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "esotest:", err)
		return 1
	}
	defer srv.stop()
	return m.Run()
}

const kubeconfigYAML = `apiVersion: v1
kind: Config
clusters:
- name: none
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: none
  context:
    cluster: none
    user: none
current-context: none
users:
- name: none
  user:
    token: none
`

// startServer runs `coffer server` on a random port of 127.0.0.1 and waits
// for its "listening" log line, which names the address.
func startServer(bin, dir string) (*server, error) {
	cmd := exec.Command(bin, "server", "--addr", "127.0.0.1:0", "--data", dir)
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard // the first start prints the root key; it is read from root.token
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" && line.Addr != "" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
	}()
	s := &server{cmd: cmd}
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("coffer server did not log its address within 30s")
	}
	tok, err := os.ReadFile(filepath.Join(dir, "root.token"))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.token = strings.TrimSpace(string(tok))
	return s, nil
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// nativeError is a native API error reply.
type nativeError struct {
	Status int
	Code   string // the API's error code: not_found, ...
}

func (e *nativeError) Error() string {
	return fmt.Sprintf("native API: status %d, code %q", e.Status, e.Code)
}

// errCode returns the native error code of err, or "".
func errCode(err error) string {
	var e *nativeError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// call sends one request to coffer's native API with the root key (path
// segments each escaped, so a '/' in a name travels as %2F) and decodes a
// 2xx reply into out. The module imports no coffer package: the server's
// go.mod can change without this module's.
func (s *server) call(method string, segs []string, in, out any) error {
	u := s.base + "/v1"
	for _, seg := range segs {
		u += "/" + url.PathEscape(seg)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal(b, &e)
		return &nativeError{Status: resp.StatusCode, Code: e.Error.Code}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// nativeSecret is what the tests read of a secret's native metadata.
type nativeSecret struct {
	Version int               `json:"version"`
	Labels  map[string]string `json:"labels"`
}

// newStore creates a store (a Vault KV v2 mount) through the native API.
func (s *server) newStore(t *testing.T, name string) {
	t.Helper()
	if err := s.call("POST", []string{"stores"}, map[string]string{"name": name}, nil); err != nil {
		t.Fatalf("create store %q: %v", name, err)
	}
}

// put writes a value natively.
func (s *server) put(t *testing.T, store, name, value string, labels map[string]string) {
	t.Helper()
	in := map[string]any{"value": value, "labels": labels}
	if err := s.call("PUT", []string{"stores", store, "secrets", name}, in, nil); err != nil {
		t.Fatalf("put %s/%s: %v", store, name, err)
	}
}

// secret reads a secret's native metadata.
func (s *server) secret(store, name string) (*nativeSecret, error) {
	var sec nativeSecret
	if err := s.call("GET", []string{"stores", store, "secrets", name}, nil, &sec); err != nil {
		return nil, err
	}
	return &sec, nil
}

// versions counts a secret's versions in its native history.
func (s *server) versions(t *testing.T, store, name string) int {
	t.Helper()
	var h struct {
		Versions []json.RawMessage `json:"versions"`
	}
	if err := s.call("GET", []string{"stores", store, "secrets", name, "versions"}, nil, &h); err != nil {
		t.Fatalf("versions of %s/%s: %v", store, name, err)
	}
	return len(h.Versions)
}

// reveal reads the latest value natively (the tests' values are UTF-8).
func (s *server) reveal(t *testing.T, store, name string) string {
	t.Helper()
	var v struct{ Value, Encoding string }
	if err := s.call("GET", []string{"stores", store, "secrets", name, "value"}, nil, &v); err != nil {
		t.Fatalf("reveal %s/%s: %v", store, name, err)
	}
	if v.Encoding != "" {
		t.Fatalf("reveal %s/%s: value in %s", store, name, v.Encoding)
	}
	return v.Value
}

// scope is a coffer API key scope.
type scope struct {
	Store   string   `json:"store"`
	Actions []string `json:"actions"`
}

// key mints a coffer API key with the given scopes (a Vault token).
func (s *server) key(t *testing.T, scopes ...scope) string {
	t.Helper()
	var out struct{ Token string }
	in := map[string]any{"name": "eso-" + t.Name(), "scopes": scopes}
	if err := s.call("POST", []string{"keys"}, in, &out); err != nil || out.Token == "" {
		t.Fatalf("create key: %v", err)
	}
	return out.Token
}

// eso builds ESO's Vault provider client for mount the way the operator
// does for a SecretStore: the provider from the registry by the store's
// spec, the store validated as its webhook does, the token read from a
// Kubernetes Secret (a fake kube client holds it), KV v2.
func (s *server) eso(t *testing.T, mount, token string) esv1.SecretsClient {
	t.Helper()
	ctx := context.Background()
	const ns = "apps"
	kube := kubefake.NewClientBuilder().WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "coffer-token", Namespace: ns},
		Data:       map[string][]byte{"token": []byte(token)},
	}).Build()
	store := &esv1.SecretStore{
		TypeMeta:   metav1.TypeMeta{Kind: esv1.SecretStoreKind, APIVersion: esv1.SchemeGroupVersion.String()},
		ObjectMeta: metav1.ObjectMeta{Name: "coffer", Namespace: ns},
		Spec: esv1.SecretStoreSpec{Provider: &esv1.SecretStoreProvider{Vault: &esv1.VaultProvider{
			Server:  s.base + "/vault",
			Path:    &mount,
			Version: esv1.VaultKVStoreV2,
			Auth: &esv1.VaultAuth{TokenSecretRef: &esmeta.SecretKeySelector{
				Name: "coffer-token", Key: "token",
			}},
		}}},
	}
	prov, err := esv1.GetProvider(store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.ValidateStore(store); err != nil {
		t.Fatalf("ValidateStore: %v", err)
	}
	c, err := prov.NewClient(ctx, store, kube, ns)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}
