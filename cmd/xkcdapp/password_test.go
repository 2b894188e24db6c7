package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/admin"
	"github.com/xkcdapp/xkcdapp/config"
)

func TestHashPassword(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := hashPassword(strings.NewReader("correct horse battery\r\nignored\n"), &stdout, &stderr); err != nil {
		t.Fatalf("hash-password: %v", err)
	}
	hash := strings.TrimSpace(stdout.String())
	h, err := admin.ParseHash(hash)
	if err != nil {
		t.Fatalf("printed hash %q: %v", hash, err)
	}
	if !h.Matches("correct horse battery") {
		t.Error("printed hash: does not match the password given")
	}
	if strings.Contains(stdout.String()+stderr.String(), "correct horse") {
		t.Error("hash-password printed the password")
	}
	// The printed hash is one the app accepts as it is.
	env := map[string]string{"ADMIN_USER": "operator", "ADMIN_PASSWORD_HASH": hash}
	if _, err := config.Load("xkcdapp serve", nil, func(k string) string { return env[k] }, &stderr); err != nil {
		t.Errorf("config with the printed hash: %v", err)
	}

	for _, in := range []string{"", "\n", "short\n", strings.Repeat("long", 2000) + "\n"} {
		stdout.Reset()
		if err := hashPassword(strings.NewReader(in), &stdout, &stderr); err == nil {
			t.Errorf("hash-password of %.20q: got nil, want an error", in)
		}
		if stdout.Len() != 0 {
			t.Errorf("hash-password of %.20q printed %q, want nothing", in, stdout.String())
		}
	}
}
