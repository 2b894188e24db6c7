// Package admin guards the admin console: the operator's password, kept
// only as an argon2id hash, and a limit on sign-in attempts.
package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes, sized for a task with half a CPU and 1 GB:
// 64 MiB and two passes take about a tenth of a second there, and Guard
// runs at most a few at once.
const (
	hashMemoryKiB = 64 * 1024
	hashPasses    = 2
	hashLanes     = 1
	saltLen       = 16
	keyLen        = 32
)

// Bounds on a configured hash's parameters: a hash that asked for more
// could take the task's memory, or its CPU, on every sign-in.
const (
	maxMemoryKiB = 256 * 1024
	maxPasses    = 16
	maxLanes     = 16
)

// The shortest and longest passwords HashPassword accepts, in bytes. The
// sign-in form takes up to MaxPasswordLen characters: a longer password
// could be hashed, but never typed in.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// Hash is a parsed argon2id hash in the PHC string format:
// $argon2id$v=19$m=65536,t=2,p=1$<salt>$<key>, both unpadded base64.
type Hash struct {
	memory uint32 // KiB
	passes uint32
	lanes  uint8
	salt   []byte
	key    []byte
}

// HashPassword returns a new argon2id hash of password, with a random salt.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("admin: a password needs at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("admin: a password may have at most %d bytes, what the sign-in form takes", MaxPasswordLen)
	}
	h := Hash{memory: hashMemoryKiB, passes: hashPasses, lanes: hashLanes, salt: make([]byte, saltLen)}
	rand.Read(h.salt)
	h.key = h.derive(password)
	return h.String(), nil
}

// ParseHash reads a hash in the PHC string format. Its errors never quote
// the hash.
func ParseHash(s string) (Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Hash{}, errors.New("not an argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	if parts[1] != "argon2id" {
		return Hash{}, errors.New("not argon2id (only $argon2id$ hashes are accepted)")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Hash{}, fmt.Errorf("argon2 version is not v=%d", argon2.Version)
	}
	var h Hash
	seen := map[string]bool{}
	for field := range strings.SplitSeq(parts[3], ",") {
		name, value, _ := strings.Cut(field, "=")
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil || seen[name] {
			return Hash{}, errors.New("parameters are not m=<KiB>,t=<passes>,p=<lanes>")
		}
		seen[name] = true
		switch name {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.passes = uint32(n)
		case "p":
			if n > maxLanes {
				return Hash{}, fmt.Errorf("p must be from 1 to %d", maxLanes)
			}
			h.lanes = uint8(n)
		default:
			return Hash{}, errors.New("parameters are not m=<KiB>,t=<passes>,p=<lanes>")
		}
	}
	switch {
	case len(seen) != 3:
		return Hash{}, errors.New("parameters are not m=<KiB>,t=<passes>,p=<lanes>")
	case h.lanes < 1:
		return Hash{}, fmt.Errorf("p must be from 1 to %d", maxLanes)
	case h.passes < 1 || h.passes > maxPasses:
		return Hash{}, fmt.Errorf("t must be from 1 to %d", maxPasses)
	case h.memory < 8*uint32(h.lanes) || h.memory > maxMemoryKiB:
		return Hash{}, fmt.Errorf("m must be from 8×p to %d KiB", maxMemoryKiB)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return Hash{}, errors.New("salt is not at least 8 bytes of unpadded base64")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 128 {
		return Hash{}, errors.New("hash is not 16 to 128 bytes of unpadded base64")
	}
	return h, nil
}

// String is the hash in the PHC string format.
func (h Hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.memory, h.passes, h.lanes,
		base64.RawStdEncoding.EncodeToString(h.salt), base64.RawStdEncoding.EncodeToString(h.key))
}

// Matches reports whether password hashes to h, comparing in constant time.
func (h Hash) Matches(password string) bool {
	return subtle.ConstantTimeCompare(h.derive(password), h.key) == 1
}

func (h Hash) derive(password string) []byte {
	n := uint32(len(h.key))
	if n == 0 {
		n = keyLen
	}
	return argon2.IDKey([]byte(password), h.salt, h.passes, h.memory, h.lanes, n)
}

// decoy is a hash with h's cost that no password matches: checking an
// unknown user against it takes as long as checking the operator.
func (h Hash) decoy() Hash {
	d := Hash{memory: h.memory, passes: h.passes, lanes: h.lanes, salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
	rand.Read(d.salt)
	rand.Read(d.key)
	return d
}
