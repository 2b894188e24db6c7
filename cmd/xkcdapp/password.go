package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/xkcdapp/xkcdapp/admin"
)

// hashPassword reads a password from in and prints its argon2id hash, for
// ADMIN_PASSWORD_HASH. From a terminal it asks twice, without echo; from
// a pipe it takes the first line.
func hashPassword(in io.Reader, stdout, stderr io.Writer) error {
	var password string
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		first, err := prompt(f, stderr, "Password: ")
		if err != nil {
			return err
		}
		again, err := prompt(f, stderr, "Again: ")
		if err != nil {
			return err
		}
		if first != again {
			return errors.New("hash-password: the two passwords differ")
		}
		password = first
	} else {
		line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("hash-password: read standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	hash, err := admin.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	fmt.Fprintln(stdout, hash)
	return nil
}

func prompt(f *os.File, stderr io.Writer, label string) (string, error) {
	fmt.Fprint(stderr, label)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("hash-password: read password: %w", err)
	}
	return string(b), nil
}
