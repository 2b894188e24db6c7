package admin

import (
	"sync"
	"time"
)

// maxKeys bounds a limiter's memory: about a hundred bytes a key.
const maxKeys = 100_000

// Limiter allows each key a number of attempts per window, counted from
// the key's first attempt. It lives in the process: see README (Admin).
type Limiter struct {
	limit  int
	window time.Duration

	mu   sync.Mutex
	keys map[string]*attempts
	// freeAt is when the oldest key, as of the last sweep, expires: a full
	// limiter does not sweep again before, so that a flood of new keys
	// costs a map lookup each, not a walk of every key under the lock.
	freeAt time.Time
	sweeps int
}

type attempts struct {
	n     int
	start time.Time
}

// NewLimiter allows limit attempts per key every window.
func NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{limit: max(limit, 1), window: window, keys: make(map[string]*attempts)}
}

// Take counts an attempt for key. When key has none left it counts
// nothing and returns how long until it has.
func (l *Limiter) Take(key string) (wait time.Duration, ok bool) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.keys[key]
	if a != nil && now.Sub(a.start) >= l.window {
		a = nil
	}
	if a == nil {
		if len(l.keys) >= maxKeys {
			if now.Before(l.freeAt) {
				return l.freeAt.Sub(now), false
			}
			l.sweep(now)
			if len(l.keys) >= maxKeys {
				// Flooded with keys: refuse newcomers rather than grow.
				return l.freeAt.Sub(now), false
			}
		}
		a = &attempts{start: now}
		l.keys[key] = a
	}
	if a.n >= l.limit {
		return a.start.Add(l.window).Sub(now), false
	}
	a.n++
	return 0, true
}

// Return gives back an attempt that was never made.
func (l *Limiter) Return(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.keys[key]; a != nil && a.n > 0 {
		a.n--
	}
}

// Forgive forgets key's attempts.
func (l *Limiter) Forgive(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// sweep drops the keys whose window has passed, and notes when the next
// of the rest does; l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	l.sweeps++
	l.freeAt = now.Add(l.window)
	for k, a := range l.keys {
		end := a.start.Add(l.window)
		if !now.Before(end) {
			delete(l.keys, k)
		} else if end.Before(l.freeAt) {
			l.freeAt = end
		}
	}
}
