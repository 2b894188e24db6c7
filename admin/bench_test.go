package admin

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCheck is one password check at the parameters HashPassword
// uses: the CPU and memory each sign-in attempt costs.
func BenchmarkCheck(b *testing.B) {
	s, err := HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewGuard("operator", s, Limits{PerIP: 1 << 30, PerUser: 1 << 30, Window: 1, Checks: 2})
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, user string }{{"operator", "operator"}, {"unknown user", "root"}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := g.SignIn(context.Background(), "192.0.2.1", tt.user, "wrong password"); err != ErrWrongCredentials {
					b.Fatalf("SignIn: got %v, want ErrWrongCredentials", err)
				}
			}
		})
	}
}

// BenchmarkLimiterFull is an attempt from a new address while the limiter
// is full of live ones, as in a flood from many addresses: what each such
// refusal costs.
func BenchmarkLimiterFull(b *testing.B) {
	l := NewLimiter(1, time.Hour)
	for i := range maxKeys {
		l.Take(strconv.Itoa(i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, ok := l.Take("new " + strconv.Itoa(i)); ok {
			b.Fatal("a new key on a full limiter: allowed, want refused")
		}
	}
}
