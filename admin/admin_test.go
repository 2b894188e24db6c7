package admin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cheapHash hashes password with tiny parameters, so that tests run fast.
func cheapHash(t *testing.T, password string) string {
	t.Helper()
	h := Hash{memory: 64, passes: 1, lanes: 1, salt: []byte("saltsaltsalt")}
	h.key = make([]byte, 32)
	h.key = h.derive(password)
	return h.String()
}

func TestHashPassword(t *testing.T) {
	s, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if want := "$argon2id$v=19$m=65536,t=2,p=1$"; !strings.HasPrefix(s, want) {
		t.Errorf("hash: got %q, want it to start %q", s, want)
	}
	h, err := ParseHash(s)
	if err != nil {
		t.Fatalf("ParseHash(HashPassword()): %v", err)
	}
	if h.String() != s {
		t.Errorf("String after ParseHash: got %q, want %q", h.String(), s)
	}
	if !h.Matches("correct horse battery") {
		t.Error("Matches(the password): got false, want true")
	}
	for _, wrong := range []string{"", "correct horse batter", "Correct horse battery", "correct horse battery "} {
		if h.Matches(wrong) {
			t.Errorf("Matches(%q): got true, want false", wrong)
		}
	}
	again, _ := HashPassword("correct horse battery")
	if again == s {
		t.Error("two hashes of one password: got the same, want different salts")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword of 5 characters: got nil, want an error")
	}
	// The sign-in form takes no more than MaxPasswordLen: a longer
	// password could be hashed but never typed in.
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordLen+1)); err == nil {
		t.Errorf("HashPassword of %d characters: got nil, want an error", MaxPasswordLen+1)
	}
	if _, err := HashPassword(strings.Repeat("é", MaxPasswordLen/2)); err != nil {
		t.Errorf("HashPassword of %d bytes: %v", MaxPasswordLen, err)
	}
}

func TestParseHashRefuses(t *testing.T) {
	good := cheapHash(t, "password1")
	salt, key := strings.Split(good, "$")[4], strings.Split(good, "$")[5]
	tests := map[string]string{
		"empty":          "",
		"a password":     "hunter2hunter2",
		"bcrypt":         "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":        "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"old version":    "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no parameters":  "$argon2id$v=19$$" + salt + "$" + key,
		"missing p":      "$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"repeated m":     "$argon2id$v=19$m=64,m=64,t=1$" + salt + "$" + key,
		"unknown param":  "$argon2id$v=19$m=64,t=1,x=1$" + salt + "$" + key,
		"zero passes":    "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"huge memory":    "$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key,
		"tiny memory":    "$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"many passes":    "$argon2id$v=19$m=64,t=100,p=1$" + salt + "$" + key,
		"zero lanes":     "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"many lanes":     "$argon2id$v=19$m=64,t=1,p=300$" + salt + "$" + key,
		"padded salt":    "$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,
		"short salt":     "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"short key":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2FsdA",
		"not base64 key": "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!!!!!!!!!!!!!!!!!!!!!!!",
		"trailing part":  good + "$x",
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseHash(s)
			if err == nil {
				t.Fatalf("ParseHash(%q): got nil, want an error", s)
			}
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q quotes the hash", err)
			}
		})
	}
	if _, err := ParseHash(good); err != nil {
		t.Errorf("ParseHash(%q): got %v, want nil", good, err)
	}
}

func newGuard(t *testing.T, limits Limits) *Guard {
	t.Helper()
	g, err := NewGuard("operator", cheapHash(t, "right password"), limits)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	return g
}

var roomy = Limits{PerIP: 100, PerUser: 100, Window: time.Hour, Checks: 2}

func TestSignIn(t *testing.T) {
	g := newGuard(t, roomy)
	tests := []struct {
		name, user, password string
		want                 error
	}{
		{"the operator", "operator", "right password", nil},
		{"wrong password", "operator", "wrong password", ErrWrongCredentials},
		{"unknown user", "someone", "right password", ErrWrongCredentials},
		{"username in another case", "Operator", "right password", ErrWrongCredentials},
		{"username with a suffix", "operator ", "right password", ErrWrongCredentials},
		{"empty", "", "", ErrWrongCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := g.SignIn(t.Context(), "192.0.2.1", tt.user, tt.password); !errors.Is(err, tt.want) {
				t.Errorf("SignIn(%q, %q): got %v, want %v", tt.user, tt.password, err, tt.want)
			}
		})
	}
}

func TestDecoyCostsTheSame(t *testing.T) {
	g := newGuard(t, roomy)
	d, h := g.decoy, g.hash
	if d.memory != h.memory || d.passes != h.passes || d.lanes != h.lanes || len(d.key) != len(h.key) || len(d.salt) != len(h.salt) {
		t.Errorf("decoy parameters: got %v, want those of %v", d, h)
	}
	if string(d.salt) == string(h.salt) || string(d.key) == string(h.key) {
		t.Error("decoy: got the operator's salt or key, want random ones")
	}
}

func TestSignInLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		g := newGuard(t, Limits{PerIP: 3, PerUser: 100, Window: time.Hour})
		for i := range 3 {
			if err := g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong"); !errors.Is(err, ErrWrongCredentials) {
				t.Fatalf("attempt %d: got %v, want ErrWrongCredentials", i+1, err)
			}
		}
		var limited *LimitedError
		err := g.SignIn(t.Context(), "192.0.2.1", "operator", "right password")
		if !errors.As(err, &limited) {
			t.Fatalf("fourth attempt, with the right password: got %v, want a LimitedError", err)
		}
		if limited.RetryAfter <= 0 || limited.RetryAfter > time.Hour {
			t.Errorf("RetryAfter: got %v, want within the hour's window", limited.RetryAfter)
		}
		if err := g.SignIn(t.Context(), "192.0.2.2", "operator", "right password"); err != nil {
			t.Errorf("another address: got %v, want nil", err)
		}
	})

	t.Run("per IPv6 /64", func(t *testing.T) {
		// One subscriber's network holds countless addresses: an attempt
		// from each must not get a fresh allowance.
		g := newGuard(t, Limits{PerIP: 2, PerUser: 100, Window: time.Hour})
		for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
			if err := g.SignIn(t.Context(), ip, "operator", "wrong"); !errors.Is(err, ErrWrongCredentials) {
				t.Fatalf("attempt %d: got %v, want ErrWrongCredentials", i+1, err)
			}
		}
		var limited *LimitedError
		if err := g.SignIn(t.Context(), "2001:db8:1:2::abcd", "operator", "right password"); !errors.As(err, &limited) {
			t.Errorf("third attempt from the same /64: got %v, want a LimitedError", err)
		}
		if err := g.SignIn(t.Context(), "2001:db8:1:3::1", "operator", "right password"); err != nil {
			t.Errorf("another /64: got %v, want nil", err)
		}
		// An IPv4 address written as IPv6 is the IPv4 address.
		g = newGuard(t, Limits{PerIP: 1, PerUser: 100, Window: time.Hour})
		g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong")
		if err := g.SignIn(t.Context(), "::ffff:192.0.2.1", "operator", "right password"); !errors.As(err, &limited) {
			t.Errorf("the same IPv4 address mapped to IPv6: got %v, want a LimitedError", err)
		}
	})

	t.Run("per username, whatever the address", func(t *testing.T) {
		g := newGuard(t, Limits{PerIP: 100, PerUser: 2, Window: time.Hour})
		g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong")
		g.SignIn(t.Context(), "192.0.2.2", "OPERATOR", "wrong")
		var limited *LimitedError
		if err := g.SignIn(t.Context(), "192.0.2.3", "operator", "right password"); !errors.As(err, &limited) {
			t.Errorf("third try at the username: got %v, want a LimitedError", err)
		}
		// Unknown usernames are limited alike, so a refusal tells nothing.
		g.SignIn(t.Context(), "192.0.2.1", "nobody", "x")
		g.SignIn(t.Context(), "192.0.2.1", "nobody", "x")
		if err := g.SignIn(t.Context(), "192.0.2.1", "nobody", "x"); !errors.As(err, &limited) {
			t.Errorf("third try at an unknown username: got %v, want a LimitedError", err)
		}
	})

	t.Run("in all", func(t *testing.T) {
		g := newGuard(t, Limits{PerIP: 100, PerUser: 100, Total: 3, Window: time.Hour})
		for i, user := range []string{"a", "b", "c"} {
			if err := g.SignIn(t.Context(), "192.0.2."+strconv.Itoa(i), user, "x"); !errors.Is(err, ErrWrongCredentials) {
				t.Fatalf("attempt %d: got %v, want ErrWrongCredentials", i+1, err)
			}
		}
		var limited *LimitedError
		if err := g.SignIn(t.Context(), "192.0.2.99", "operator", "right password"); !errors.As(err, &limited) {
			t.Errorf("fourth attempt in all, from a new address: got %v, want a LimitedError", err)
		}
	})

	t.Run("success forgives", func(t *testing.T) {
		g := newGuard(t, Limits{PerIP: 2, PerUser: 2, Window: time.Hour})
		g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong")
		if err := g.SignIn(t.Context(), "192.0.2.1", "operator", "right password"); err != nil {
			t.Fatalf("second attempt: got %v, want nil", err)
		}
		for i := range 2 {
			if err := g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong"); !errors.Is(err, ErrWrongCredentials) {
				t.Errorf("attempt %d after a success: got %v, want ErrWrongCredentials", i+1, err)
			}
		}
	})
}

func TestSignInBusy(t *testing.T) {
	g := newGuard(t, Limits{PerIP: 100, PerUser: 100, Window: time.Hour, Checks: 1})
	g.checks <- struct{}{} // a check is running
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.SignIn(ctx, "192.0.2.1", "operator", "right password"); !errors.Is(err, ErrBusy) {
		t.Errorf("SignIn with every check slot taken: got %v, want ErrBusy", err)
	}
	<-g.checks
	// The refused attempt was given back: the limit still allows 100.
	for i := range 100 {
		if err := g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong"); !errors.Is(err, ErrWrongCredentials) {
			t.Fatalf("attempt %d: got %v, want ErrWrongCredentials", i+1, err)
		}
	}
}

func TestSignInConcurrent(t *testing.T) {
	g := newGuard(t, Limits{PerIP: 5, PerUser: 1000, Window: time.Hour, Checks: 2})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong, limited := 0, 0
	for range 20 {
		wg.Go(func() {
			err := g.SignIn(t.Context(), "192.0.2.1", "operator", "wrong")
			mu.Lock()
			defer mu.Unlock()
			var l *LimitedError
			switch {
			case errors.Is(err, ErrWrongCredentials):
				wrong++
			case errors.As(err, &l):
				limited++
			default:
				t.Errorf("SignIn: got %v", err)
			}
		})
	}
	wg.Wait()
	if wrong != 5 || limited != 15 {
		t.Errorf("20 concurrent attempts with a limit of 5: got %d checked and %d limited, want 5 and 15", wrong, limited)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(1, time.Hour)
	for i := range maxKeys {
		if _, ok := l.Take(strconv.Itoa(i)); !ok {
			t.Fatalf("key %d: refused before the limiter was full", i)
		}
	}
	if _, ok := l.Take("one too many"); ok {
		t.Error("a new key with the limiter full of live keys: got allowed, want refused")
	}
	if len(l.keys) > maxKeys {
		t.Errorf("keys held: got %d, want at most %d", len(l.keys), maxKeys)
	}
	// A flood of newcomers walks the full limiter once, not once each:
	// no key can expire before the oldest does.
	for i := range 1000 {
		if wait, ok := l.Take("newcomer " + strconv.Itoa(i)); ok || wait <= 0 || wait > time.Hour {
			t.Fatalf("newcomer %d on a full limiter: got (%v, %v), want refused until the oldest key expires", i, wait, ok)
		}
	}
	if l.sweeps != 1 {
		t.Errorf("sweeps of the full limiter for 1001 newcomers: got %d, want 1", l.sweeps)
	}
}
