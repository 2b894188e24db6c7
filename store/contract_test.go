package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xkcdapp/xkcdapp/migrations"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/xkcd"
)

// Store is what both stores promise; the contract suite holds them to it.
type Store interface {
	Comics(ctx context.Context) ([]xkcd.Comic, error)
	PutComic(ctx context.Context, c xkcd.Comic) error
	AddViews(ctx context.Context, deltas []store.Count) ([]store.Count, error)
	Views(ctx context.Context, num int) (int64, error)
	TopComics(ctx context.Context, limit int) ([]store.Count, error)
	Ping(ctx context.Context) error
}

var (
	_ Store = (*store.Memory)(nil)
	_ Store = (*store.Postgres)(nil)
)

func TestMemory(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return store.NewMemory() })
}

func TestPostgres(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return storetest.NewPostgres(t, storetest.NewDatabase(t)) })
}

// openPostgres opens the database at url, closed when the test ends.
func openPostgres(t *testing.T, url string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), url, 0)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestPostgresMigrate(t *testing.T) {
	t.Run("twice", func(t *testing.T) {
		url := storetest.NewDatabase(t)
		p := storetest.NewPostgres(t, url)
		if err := p.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: got %v, want nil", err)
		}
		assertSchemaVersion(t, url, latestMigration(t))
		assertUsable(t, p)
	})

	t.Run("concurrently", func(t *testing.T) {
		url := storetest.NewDatabase(t)
		const tasks = 4
		stores := make([]*store.Postgres, tasks)
		for i := range stores {
			stores[i] = openPostgres(t, url)
		}
		errs := make([]error, tasks)
		var wg sync.WaitGroup
		for i, p := range stores {
			wg.Go(func() { errs[i] = p.Migrate(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate in task %d: got %v, want nil", i, err)
			}
		}
		assertSchemaVersion(t, url, latestMigration(t))
		assertUsable(t, stores[tasks-1])
	})
}

func TestPostgresPingUnreachable(t *testing.T) {
	// Nothing listens on port 1; opening must not wait for the server.
	p, err := store.OpenPostgres(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", 0)
	if err != nil {
		t.Fatalf("OpenPostgres with the server down: got %v, want nil", err)
	}
	t.Cleanup(p.Close)
	if err := p.Ping(t.Context()); err == nil {
		t.Errorf("Ping with the server down: got nil, want an error")
	}
}

// latestMigration is the number of migrations embedded: the version a
// migrated database is at.
func latestMigration(t *testing.T) int32 {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(files))
	}
	return int32(len(files))
}

// assertSchemaVersion checks that tern recorded version want.
func assertSchemaVersion(t *testing.T, url string, want int32) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var got int32
	if err := conn.QueryRow(t.Context(), "SELECT version FROM public.schema_version").Scan(&got); err != nil {
		t.Fatalf("read schema version: %v", err)
	}
	if got != want {
		t.Errorf("schema version: got %d, want %d", got, want)
	}
}

// assertUsable checks that the migrated schema stores comics and views.
func assertUsable(t *testing.T, s Store) {
	t.Helper()
	if err := s.PutComic(t.Context(), xkcd.Comic{Num: 1, Title: "Barrel - Part 1"}); err != nil {
		t.Fatalf("PutComic after Migrate: %v", err)
	}
	assertCounts(t, "AddViews after Migrate", addViews(t, s, store.Count{Num: 1, Views: 1}), []store.Count{{Num: 1, Views: 1}})
}

// testStore is the contract both stores pass: newStore returns an empty one.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("Ping", func(t *testing.T) {
		if err := newStore(t).Ping(t.Context()); err != nil {
			t.Errorf("Ping: got %v, want nil", err)
		}
	})

	t.Run("empty store", func(t *testing.T) {
		s := newStore(t)
		if got := comics(t, s); len(got) != 0 {
			t.Errorf("Comics: got %d comics, want none", len(got))
		}
		if got := top(t, s, store.MaxTop); len(got) != 0 {
			t.Errorf("TopComics: got %v, want none", got)
		}
	})

	t.Run("PutComic round-trips every field", func(t *testing.T) {
		tests := []struct {
			name  string
			comic xkcd.Comic
		}{
			{"every field set", xkcd.Comic{
				Num:        1608,
				Title:      "Hoverboard",
				SafeTitle:  "Hoverboard",
				Alt:        "I'm as surprised as anyone.",
				Img:        "https://imgs.xkcd.com/comics/",
				Transcript: "[[A person on a hoverboard.]]\nPerson: Wheee!",
				Link:       "https://xkcd.com/1608/",
				News:       `Play it <a href="/1608/">here</a>.`,
				Published:  time.Date(2015, time.November, 13, 0, 0, 0, 0, time.UTC),
				ExtraParts: json.RawMessage(`{"pre": "", "post": "", "headerextra": "", "inset": "<div id=\"game\">game</div>", "n": [1, 2.5, null, true]}`),
			}},
			{"markup and unicode", xkcd.Comic{
				Num:        4,
				Title:      `<script>alert("title")</script><b>Bold</b>`,
				SafeTitle:  "Fish & Chips — café",
				Alt:        `<img src=x onerror="alert('alt')"> It’s déjà vu 日本 😀`,
				Img:        "https://imgs.xkcd.com/comics/barrel_cropped_(1).jpg",
				Transcript: "Line one\n\tLine two\\n 'quoted' \"double\"",
				News:       "Naïve café",
				Published:  time.Date(2006, time.January, 1, 0, 0, 0, 0, time.UTC),
			}},
			{"no date and no extra parts", xkcd.Comic{
				Num:       2,
				Title:     "Petit Trees (sketch)",
				SafeTitle: "Petit Trees (sketch)",
				Img:       "https://imgs.xkcd.com/comics/tree_cropped_(1).jpg",
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t)
				putComic(t, s, tt.comic)
				got := comics(t, s)
				if len(got) != 1 {
					t.Fatalf("Comics: got %d comics, want 1", len(got))
				}
				assertComic(t, got[0], tt.comic)
			})
		}
	})

	t.Run("PutComic twice replaces", func(t *testing.T) {
		s := newStore(t)
		first := xkcd.Comic{
			Num:        8,
			Title:      "Old title",
			SafeTitle:  "Old title",
			Alt:        "Old alt",
			Img:        "https://imgs.xkcd.com/comics/old.png",
			Link:       "https://example.com/old",
			Published:  time.Date(2006, time.January, 1, 0, 0, 0, 0, time.UTC),
			ExtraParts: json.RawMessage(`{"inset": "old"}`),
		}
		second := xkcd.Comic{
			Num:       8,
			Title:     "New title",
			SafeTitle: "New title",
			Alt:       "New alt",
			Img:       "https://imgs.xkcd.com/comics/new.png",
		}
		putComic(t, s, first)
		putComic(t, s, second)
		got := comics(t, s)
		if len(got) != 1 {
			t.Fatalf("Comics: got %d comics, want 1", len(got))
		}
		assertComic(t, got[0], second)
	})

	t.Run("Comics sorted by number", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []int{5, 1, 1000, 3, 10, 2, 405} {
			putComic(t, s, xkcd.Comic{Num: n, Title: "Comic", SafeTitle: "Comic"})
		}
		var got []int
		for _, c := range comics(t, s) {
			got = append(got, c.Num)
		}
		if want := []int{1, 2, 3, 5, 10, 405, 1000}; !slices.Equal(got, want) {
			t.Errorf("Comics numbers: got %v, want %v", got, want)
		}
	})

	t.Run("AddViews", func(t *testing.T) {
		type call struct {
			deltas []store.Count
			want   []store.Count // new totals, in any order
		}
		tests := []struct {
			name      string
			calls     []call
			wantViews map[int]int64
		}{
			{
				name: "returns the new totals",
				calls: []call{
					{[]store.Count{{Num: 1, Views: 2}}, []store.Count{{Num: 1, Views: 2}}},
					{[]store.Count{{Num: 1, Views: 3}, {Num: 2, Views: 1}}, []store.Count{{Num: 1, Views: 5}, {Num: 2, Views: 1}}},
					{[]store.Count{{Num: 2, Views: 10}}, []store.Count{{Num: 2, Views: 11}}},
				},
				wantViews: map[int]int64{1: 5, 2: 11, 3: 0},
			},
			{
				name: "merges duplicate comics in one call",
				calls: []call{
					{[]store.Count{{Num: 7, Views: 1}, {Num: 3, Views: 2}, {Num: 7, Views: 4}, {Num: 3, Views: 1}}, []store.Count{{Num: 3, Views: 3}, {Num: 7, Views: 5}}},
					{[]store.Count{{Num: 7, Views: 1}, {Num: 7, Views: 1}}, []store.Count{{Num: 7, Views: 7}}},
				},
				wantViews: map[int]int64{3: 3, 7: 7},
			},
			{
				name: "ignores zero and negative deltas",
				calls: []call{
					{[]store.Count{{Num: 1, Views: 5}}, []store.Count{{Num: 1, Views: 5}}},
					{[]store.Count{{Num: 1, Views: 0}, {Num: 1, Views: -3}, {Num: 2, Views: 0}, {Num: 3, Views: -1}}, nil},
					{[]store.Count{{Num: 4, Views: 2}, {Num: 4, Views: -1}, {Num: 1, Views: -5}}, []store.Count{{Num: 4, Views: 2}}},
				},
				wantViews: map[int]int64{1: 5, 2: 0, 3: 0, 4: 2},
			},
			{
				name: "no deltas",
				calls: []call{
					{nil, nil},
					{[]store.Count{}, nil},
				},
				wantViews: map[int]int64{1: 0},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t)
				for i, c := range tt.calls {
					got := addViews(t, s, c.deltas...)
					assertCounts(t, fmt.Sprintf("AddViews call %d", i+1), got, c.want)
				}
				for num, want := range tt.wantViews {
					if got := views(t, s, num); got != want {
						t.Errorf("Views(%d): got %d, want %d", num, got, want)
					}
				}
			})
		}
	})

	t.Run("Views of an unviewed comic is 0", func(t *testing.T) {
		s := newStore(t)
		putComic(t, s, xkcd.Comic{Num: 42, Title: "Geico", SafeTitle: "Geico"})
		addViews(t, s, store.Count{Num: 41, Views: 3})
		for _, num := range []int{42, 43} {
			if got := views(t, s, num); got != 0 {
				t.Errorf("Views(%d): got %d, want 0", num, got)
			}
		}
	})

	t.Run("AddViews concurrently", func(t *testing.T) {
		const (
			writers = 16
			calls   = 50
		)
		nums := []int{11, 3, 7, 5}

		t.Run("one comic per call", func(t *testing.T) {
			s := newStore(t)
			pick := func(w, i int) int { return nums[(w*7+i*3)%len(nums)] }
			returned := runWriters(t, writers, calls, func(w, i int) ([]store.Count, error) {
				return s.AddViews(t.Context(), []store.Count{{Num: pick(w, i), Views: 1}})
			})
			want := map[int]int64{}
			for w := range writers {
				for i := range calls {
					want[pick(w, i)]++
				}
			}
			assertViews(t, s, returned, want, writers*calls)
		})

		t.Run("every comic per call in mixed orders", func(t *testing.T) {
			s := newStore(t)
			returned := runWriters(t, writers, calls, func(w, i int) ([]store.Count, error) {
				deltas := make([]store.Count, len(nums))
				for j := range nums {
					deltas[j] = store.Count{Num: nums[(j+w+i)%len(nums)], Views: 1}
				}
				if (w+i)%2 == 1 {
					slices.Reverse(deltas)
				}
				return s.AddViews(t.Context(), deltas)
			})
			want := map[int]int64{}
			for _, n := range nums {
				want[n] = writers * calls
			}
			assertViews(t, s, returned, want, writers*calls*len(nums))
		})
	})

	t.Run("TopComics", func(t *testing.T) {
		s := newStore(t)
		// Added so that neither insertion order nor number order gives the ranking.
		addViews(t, s, store.Count{Num: 5, Views: 9}, store.Count{Num: 3, Views: 5})
		addViews(t, s, store.Count{Num: 4, Views: 1}, store.Count{Num: 1, Views: 5})
		addViews(t, s, store.Count{Num: 2, Views: 8})
		addViews(t, s, store.Count{Num: 2, Views: 1}, store.Count{Num: 6, Views: 0})
		putComic(t, s, xkcd.Comic{Num: 7, Title: "Cached, never viewed", SafeTitle: "Cached, never viewed"})

		ranking := []store.Count{{Num: 2, Views: 9}, {Num: 5, Views: 9}, {Num: 1, Views: 5}, {Num: 3, Views: 5}, {Num: 4, Views: 1}}
		tests := []struct {
			name  string
			limit int
			want  []store.Count
		}{
			{"limit above the viewed comics", store.MaxTop, ranking},
			{"limit equal to the viewed comics", 5, ranking},
			{"limit cuts a tie", 3, ranking[:3]},
			{"limit one", 1, ranking[:1]},
			{"limit zero", 0, nil},
			{"negative limit", -1, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := top(t, s, tt.limit)
				if !slices.Equal(got, tt.want) {
					t.Errorf("TopComics(%d): got %v, want %v", tt.limit, got, tt.want)
				}
			})
		}
	})
}

// runWriters calls add(w, i) for i < calls from each of writers goroutines at
// once and returns every count the calls returned.
func runWriters(t *testing.T, writers, calls int, add func(w, i int) ([]store.Count, error)) []store.Count {
	t.Helper()
	var (
		mu       sync.Mutex
		returned []store.Count
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range calls {
				got, err := add(w, i)
				if err != nil {
					t.Errorf("AddViews from writer %d, call %d: %v", w, i, err)
					return
				}
				mu.Lock()
				returned = append(returned, got...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return returned
}

// assertViews checks the final counts against want and that the totals the
// writers were given are each comic's 1..n exactly once: no increment lost,
// none seen twice.
func assertViews(t *testing.T, s Store, returned []store.Count, want map[int]int64, total int) {
	t.Helper()
	var sum int64
	for num, w := range want {
		got := views(t, s, num)
		sum += got
		if got != w {
			t.Errorf("Views(%d): got %d, want %d", num, got, w)
		}
	}
	if sum != int64(total) {
		t.Errorf("views in total: got %d, want %d", sum, total)
	}
	seen := map[int][]int64{}
	for _, c := range returned {
		seen[c.Num] = append(seen[c.Num], c.Views)
	}
	for num, w := range want {
		got := seen[num]
		slices.Sort(got)
		wantSeq := make([]int64, w)
		for i := range wantSeq {
			wantSeq[i] = int64(i + 1)
		}
		if !slices.Equal(got, wantSeq) {
			t.Errorf("totals returned for comic %d: got %d totals (%v...), want 1..%d each once", num, len(got), got[:min(len(got), 10)], w)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("comics in returned totals: got %d, want %d", len(seen), len(want))
	}
}

// assertComic compares every field, the extra parts as JSON values.
func assertComic(t *testing.T, got, want xkcd.Comic) {
	t.Helper()
	if !jsonEqual(t, got.ExtraParts, want.ExtraParts) {
		t.Errorf("comic %d ExtraParts: got %s, want %s", want.Num, got.ExtraParts, want.ExtraParts)
	}
	if !got.Published.Equal(want.Published) {
		t.Errorf("comic %d Published: got %v, want %v", want.Num, got.Published, want.Published)
	}
	got.ExtraParts, want.ExtraParts = nil, nil
	got.Published, want.Published = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comic %d:\ngot  %+v\nwant %+v", want.Num, got, want)
	}
}

// jsonEqual reports whether a and b hold the same JSON value; empty is none.
func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// assertCounts compares counts whatever their order.
func assertCounts(t *testing.T, what string, got, want []store.Count) {
	t.Helper()
	byNum := func(a, b store.Count) int { return cmp.Compare(a.Num, b.Num) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byNum)
	slices.SortFunc(want, byNum)
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func putComic(t *testing.T, s Store, c xkcd.Comic) {
	t.Helper()
	if err := s.PutComic(t.Context(), c); err != nil {
		t.Fatalf("PutComic(%d): %v", c.Num, err)
	}
}

func comics(t *testing.T, s Store) []xkcd.Comic {
	t.Helper()
	got, err := s.Comics(t.Context())
	if err != nil {
		t.Fatalf("Comics: %v", err)
	}
	return got
}

func addViews(t *testing.T, s Store, deltas ...store.Count) []store.Count {
	t.Helper()
	got, err := s.AddViews(t.Context(), deltas)
	if err != nil {
		t.Fatalf("AddViews(%v): %v", deltas, err)
	}
	return got
}

func views(t *testing.T, s Store, num int) int64 {
	t.Helper()
	got, err := s.Views(t.Context(), num)
	if err != nil {
		t.Fatalf("Views(%d): %v", num, err)
	}
	return got
}

func top(t *testing.T, s Store, limit int) []store.Count {
	t.Helper()
	got, err := s.TopComics(t.Context(), limit)
	if err != nil {
		t.Fatalf("TopComics(%d): %v", limit, err)
	}
	return got
}
