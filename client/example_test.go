package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
)

// Write a secret only if it does not exist yet, then read it back. A lost
// race or a missing secret comes back as a *coffer.Error with its code.
func Example() {
	c, err := client.New("http://127.0.0.1:8200", os.Getenv("COFFER_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.PutSecret(ctx, "prod", &coffer.SecretPut{Name: "db/password", Value: []byte("s3cret"), IfVersion: -1})
	switch coffer.ErrorCode(err) {
	case "":
	case coffer.EPRECONDITION:
		fmt.Println("db/password exists already")
	default:
		log.Fatal(err)
	}
	v, err := c.Reveal(ctx, "prod", "db/password", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d has %d bytes\n", v.Version, len(v.Data))
}
