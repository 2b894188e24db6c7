package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xkcdapp/xkcdapp/clientkey"
)

// Errors of a sign-in.
var (
	// ErrWrongCredentials is any mismatch: which part was wrong is not said.
	ErrWrongCredentials = errors.New("admin: wrong username or password")
	// ErrBusy means too many password checks are running already.
	ErrBusy = errors.New("admin: too many sign-ins at once")
)

// LimitedError is a sign-in refused for too many attempts.
type LimitedError struct {
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("admin: too many sign-in attempts; retry after %v", e.RetryAfter)
}

// Limits bound sign-in attempts: per client address, per username
// whatever the address, and in all, so that a flood from many addresses
// cannot spend the task's CPU on hashing (the operator then waits too).
// Attempts that succeed are forgiven.
type Limits struct {
	PerIP   int
	PerUser int
	Total   int // 0: no bound in all
	Window  time.Duration
	// Checks bounds the password checks running at once: each holds the
	// hash's memory (64 MiB by default).
	Checks int
}

// DefaultLimits: ten tries per address, thirty per username and 120 in
// all every quarter hour (at about 0.2 s of CPU a check, under 3% of a
// core), and one check at a time: a task has half a CPU, so a second
// would only slow the first, and hold another 64 MiB.
var DefaultLimits = Limits{PerIP: 10, PerUser: 30, Total: 120, Window: 15 * time.Minute, Checks: 1}

// Guard checks the operator's sign-ins. It is safe for concurrent use.
type Guard struct {
	user   [sha256.Size]byte
	name   string
	hash   Hash
	decoy  Hash
	checks chan struct{}
	byIP   *Limiter
	byUser *Limiter
	all    *Limiter // nil: no bound in all

	fingerprint string
}

// NewGuard returns a guard for user with the password hash phc.
func NewGuard(user, phc string, limits Limits) (*Guard, error) {
	if user == "" {
		return nil, errors.New("admin: no username")
	}
	h, err := ParseHash(phc)
	if err != nil {
		return nil, err
	}
	g := &Guard{
		user:   sha256.Sum256([]byte(user)),
		name:   user,
		hash:   h,
		decoy:  h.decoy(),
		checks: make(chan struct{}, max(limits.Checks, 1)),
		byIP:   NewLimiter(limits.PerIP, limits.Window),
		byUser: NewLimiter(limits.PerUser, limits.Window),
	}
	if limits.Total > 0 {
		g.all = NewLimiter(limits.Total, limits.Window)
	}
	sum := sha256.Sum256([]byte(user + "\x00" + phc))
	g.fingerprint = fmt.Sprintf("%x", sum[:12])
	return g, nil
}

// User is the operator's username.
func (g *Guard) User() string { return g.name }

// Fingerprint names the configured username and hash together, without
// revealing either: a sign-in made under another configuration (a new
// password) is worth nothing.
func (g *Guard) Fingerprint() string { return g.fingerprint }

// maxUserLen bounds the usernames a sign-in is checked with.
const maxUserLen = 256

// SignIn checks user and password from the client at ip. It returns nil
// for the operator, a *LimitedError when that client or username has tried
// too often, ErrBusy when too many checks are running, and otherwise
// ErrWrongCredentials, after the same work whichever part was wrong.
func (g *Guard) SignIn(ctx context.Context, ip, user, password string) error {
	ipKey := "ip:" + clientkey.Of(ip)
	userKey := "user:" + userKey(user)
	if wait, ok := g.byIP.Take(ipKey); !ok {
		return &LimitedError{RetryAfter: wait}
	}
	if wait, ok := g.byUser.Take(userKey); !ok {
		g.byIP.Return(ipKey)
		return &LimitedError{RetryAfter: wait}
	}
	if g.all != nil {
		if wait, ok := g.all.Take("all"); !ok {
			g.byIP.Return(ipKey)
			g.byUser.Return(userKey)
			return &LimitedError{RetryAfter: wait}
		}
	}
	select {
	case g.checks <- struct{}{}:
	case <-ctx.Done():
		g.byIP.Return(ipKey)
		g.byUser.Return(userKey)
		if g.all != nil {
			g.all.Return("all")
		}
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	ok := g.check(user, password)
	<-g.checks
	if !ok {
		return ErrWrongCredentials
	}
	g.byIP.Forgive(ipKey)
	g.byUser.Forgive(userKey)
	return nil
}

// check compares both parts in constant time, and hashes the password
// against the decoy for any other username, so that the time taken does
// not tell whether the username was right.
func (g *Guard) check(user, password string) bool {
	given := sha256.Sum256([]byte(user))
	userOK := subtle.ConstantTimeCompare(given[:], g.user[:]) == 1 && len(user) <= maxUserLen
	h := g.decoy
	if userOK {
		h = g.hash
	}
	return h.Matches(password) && userOK
}

// userKey is a fixed-size key for any username: attempts at long or many
// names cost the limiter the same small entry.
func userKey(user string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(user)))
	return fmt.Sprintf("%x", sum[:16])
}
