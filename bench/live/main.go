// Command live measures live stats under load: it attaches N Server-Sent
// Events streams to one running instance, makes views at a steady rate,
// and reports how soon each committed view reaches the streams (p50, p99),
// the instance's RSS and CPU, and GET /random throughput (with hey) with
// and without the streams attached. bench/live.sh runs it against a fresh
// server and Postgres.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xkcdapp/xkcdapp/live/livetest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "live:", err)
		os.Exit(1)
	}
}

type config struct {
	base        string
	pid         int
	streams     int
	board       float64 // share of streams on the leaderboard
	probes      int
	comics      int
	rate        int
	warmup      time.Duration
	measure     time.Duration
	heyDuration string
	heyClients  int
	readers     bool // this process only holds the streams that read
}

func run() error {
	var c config
	flag.StringVar(&c.base, "url", "http://127.0.0.1:18000", "the instance")
	flag.IntVar(&c.pid, "pid", 0, "the instance's process id, for RSS and CPU")
	flag.IntVar(&c.streams, "streams", 10000, "streams to attach")
	flag.Float64Var(&c.board, "leaderboard", 0.1, "share of streams following the leaderboard; the rest follow a comic's count")
	flag.IntVar(&c.probes, "probes", 400, "streams that time every event (the rest only read)")
	flag.IntVar(&c.comics, "comics", 100, "comics viewed, and followed by comic streams")
	flag.IntVar(&c.rate, "rate", 1000, "views per second")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "views before measuring")
	flag.DurationVar(&c.measure, "measure", 30*time.Second, "views measured")
	flag.StringVar(&c.heyDuration, "hey", "10s", "duration of each hey run against GET /random")
	flag.IntVar(&c.heyClients, "hey-clients", 50, "hey's concurrent clients")
	flag.BoolVar(&c.readers, "readers", false, "only attach the streams that read, and hold them until killed (run by the harness itself)")
	flag.Parse()
	if c.readers {
		return holdReaders(c)
	}

	fmt.Printf("live stats bench: %d streams (%.0f%% on the leaderboard, %d timing), %d views/s over %d comics\n",
		c.streams, 100*c.board, c.probes, c.rate, c.comics)
	without, err := hey(c, "no streams")
	if err != nil {
		return err
	}
	rss0 := rss(c.pid)
	fmt.Printf("RSS with no streams (after hey): %s\n", mb(rss0))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder(c.comics)
	start := time.Now()
	readers, err := attach(ctx, c, rec)
	if readers != nil {
		defer func() {
			readers.Process.Kill()
			readers.Wait()
		}()
	}
	if err != nil {
		return err
	}
	readersPid := readers.Process.Pid
	time.Sleep(2 * time.Second) // let the instance settle its first frames
	rss1 := rss(c.pid)
	fmt.Printf("attached %d streams in %v; RSS %s, %.1f KB per stream\n",
		c.streams, time.Since(start).Round(time.Millisecond), mb(rss1), float64(rss1-rss0)/float64(c.streams)/1024)

	idle, err := hey(c, fmt.Sprintf("%d streams and no views but hey's", c.streams))
	if err != nil {
		return err
	}

	var views viewer
	go views.run(ctx, c, rec)
	time.Sleep(c.warmup)
	rec.start()
	cpu0, self0, t0 := cpuTime(c.pid), cpuTime(os.Getpid())+cpuTime(readersPid), time.Now()
	views.made.Store(0)
	time.Sleep(c.measure)
	cpu1, self1, t1 := cpuTime(c.pid), cpuTime(os.Getpid())+cpuTime(readersPid), time.Now()
	samples := rec.stop()
	made := views.made.Load()
	rss2 := rss(c.pid)
	fmt.Printf("views: %d in %v (%.0f/s), %d failed\n", made, t1.Sub(t0).Round(time.Millisecond),
		float64(made)/t1.Sub(t0).Seconds(), views.failed.Load())
	fmt.Printf("instance: CPU %.0f%% of one core, RSS %s (%.1f KB per stream); this harness: CPU %.0f%%\n",
		100*(cpu1-cpu0).Seconds()/t1.Sub(t0).Seconds(), mb(rss2), float64(rss2-rss0)/float64(c.streams)/1024,
		100*(self1-self0).Seconds()/t1.Sub(t0).Seconds())
	report("delivery, commit to stream", samples.fromCommit)
	report("delivery, request sent to stream", samples.fromSent)
	fmt.Printf("timing streams ended by the instance meanwhile: %d\n", rec.ended.Load())

	with, err := hey(c, fmt.Sprintf("%d streams and %d views/s", c.streams, c.rate))
	if err != nil {
		return err
	}
	fmt.Printf("GET /random: %.0f req/s without streams, %.0f with them idle (%.0f%%), %.0f with them and %d views/s (%.0f%%)\n",
		without, idle, 100*idle/without, with, c.rate, 100*with/without)
	return nil
}

// recorder matches the counts streams show to the views that made them.
type recorder struct {
	mu     sync.Mutex
	views  []map[int64]viewTimes // per comic (index num-1): count -> when
	on     bool
	sample samples
	ended  atomic.Int64
}

type viewTimes struct{ sent, committed time.Time }

type samples struct{ fromCommit, fromSent []time.Duration }

func newRecorder(comics int) *recorder {
	r := &recorder{views: make([]map[int64]viewTimes, comics)}
	for i := range r.views {
		r.views[i] = make(map[int64]viewTimes)
	}
	return r
}

func (r *recorder) start() {
	r.mu.Lock()
	r.on = true
	r.mu.Unlock()
}

func (r *recorder) stop() samples {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.sample
}

// viewed records that the view of comic num that was told count was sent
// and committed at those times.
func (r *recorder) viewed(num int, count int64, t viewTimes) {
	r.mu.Lock()
	r.views[num-1][count] = t
	r.mu.Unlock()
}

// shown records that a stream showed count for num at now, having shown
// last before: every view in between reached it now.
func (r *recorder) shown(num int, last, count int64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.on || num < 1 || num > len(r.views) {
		return
	}
	for c := last + 1; c <= count && last > 0; c++ {
		if t, ok := r.views[num-1][c]; ok {
			r.sample.fromCommit = append(r.sample.fromCommit, now.Sub(t.committed))
			r.sample.fromSent = append(r.sample.fromSent, now.Sub(t.sent))
		}
	}
}

var (
	comicCount = regexp.MustCompile(`id="comic-views" data-views="(\d+)"`)
	boardRow   = regexp.MustCompile(`data-num="(\d+)" data-views="(\d+)"`)
)

// attach opens every stream: the probes here, through net/http, timing
// each event; the rest in a second process of this harness that only
// reads. Apart, the probes are not queued behind thousands of reading
// goroutines woken by the same event, as a browser is not.
func attach(ctx context.Context, c config, rec *recorder) (readers *exec.Cmd, err error) {
	probes, _ := split(c)
	cmd := exec.CommandContext(ctx, os.Args[0], "-readers", "-url", c.base,
		"-streams", strconv.Itoa(c.streams), "-probes", strconv.Itoa(len(probes)),
		"-leaderboard", strconv.FormatFloat(c.board, 'f', -1, 64), "-comics", strconv.Itoa(c.comics))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	attached, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(attached, "attached") {
		return cmd, fmt.Errorf("readers: %q %v", attached, err)
	}
	return cmd, openAll(ctx, probes, func(q string) error { return openProbe(ctx, c.base+"/stats/stream?"+q, rec) })
}

// queries are the streams to open: a share on the leaderboard, the rest
// spread over the comics viewed.
func queries(c config) []string {
	boards := int(float64(c.streams) * c.board)
	qs := make([]string, c.streams)
	for i := range qs {
		qs[i] = "n=10"
		if i >= boards {
			qs[i] = "comic=" + strconv.Itoa(1+i%c.comics)
		}
	}
	return qs
}

// split parts the streams to open into the probes, spread evenly over
// them, and the readers. Both processes split alike: the probes are the
// streams the reading process leaves out.
func split(c config) (probes, readers []string) {
	step := max(c.streams/max(c.probes, 1), 1)
	for i, q := range queries(c) {
		if i%step == 0 && len(probes) < c.probes {
			probes = append(probes, q)
		} else {
			readers = append(readers, q)
		}
	}
	return probes, readers
}

// holdReaders opens the streams that only read, says so, and holds them.
func holdReaders(c config) error {
	u, err := url.Parse(c.base)
	if err != nil {
		return err
	}
	_, readers := split(c)
	ctx := context.Background()
	var ended atomic.Int64
	if err := openAll(ctx, readers, func(q string) error { return openReader(ctx, u.Host, q, &ended) }); err != nil {
		return err
	}
	fmt.Printf("attached %d\n", len(readers))
	for {
		time.Sleep(time.Second)
		if n := ended.Load(); n > 0 {
			fmt.Fprintf(os.Stderr, "live: %d reading streams ended by the instance\n", n)
			ended.Store(0)
		}
	}
}

// openAll opens every stream, 200 at a time.
func openAll(ctx context.Context, queries []string, open func(q string) error) error {
	sem := make(chan struct{}, 200)
	errs := make(chan error, len(queries))
	var wg sync.WaitGroup
	for _, q := range queries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs <- open(q)
		})
	}
	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d streams failed to open, first: %w", len(failed), len(queries), failed[0])
	}
	return nil
}

// openReader opens a stream on a bare connection and reads it in the
// background with a small buffer.
func openReader(ctx context.Context, host, query string, ended *atomic.Int64) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	fmt.Fprintf(conn, "GET /stats/stream?%s HTTP/1.1\r\nHost: %s\r\nHX-Request: true\r\nAccept: text/event-stream\r\nX-Forwarded-For: %s\r\n\r\n", query, host, visitor(18))
	br := bufio.NewReaderSize(conn, 256)
	status, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		conn.Close()
		return fmt.Errorf("stream %s: %q %v", query, status, err)
	}
	go func() {
		defer conn.Close()
		context.AfterFunc(ctx, func() { conn.Close() })
		// As large as a leaderboard event, so that one read takes it:
		// bufio reads that size straight from the connection.
		buf := make([]byte, 4096)
		for {
			if _, err := br.Read(buf); err != nil {
				if ctx.Err() == nil {
					ended.Add(1)
				}
				return
			}
		}
	}()
	return nil
}

// visitors numbers the visitors whose streams this process opens.
var visitors atomic.Uint32

// visitor is a new visitor's address in 198.<net>.0.0/16, as a load
// balancer would name it: the instance bounds the streams of each one.
func visitor(net byte) string {
	n := visitors.Add(1)
	return fmt.Sprintf("198.%d.%d.%d", net, n>>8&0xff, n&0xff)
}

var probeClient = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: -1}}

// openProbe opens a stream that notes, for every event, which views it
// brings.
func openProbe(ctx context.Context, url string, rec *recorder) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-Forwarded-For", visitor(19))
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("probe %s: %s", url, resp.Status)
	}
	comic, _ := strconv.Atoi(url[strings.LastIndex(url, "=")+1:])
	if !strings.Contains(url, "comic=") {
		comic = 0
	}
	go func() {
		defer resp.Body.Close()
		last := map[int]int64{}
		inTable := map[int]bool{}
		err := livetest.Read(resp.Body, func(data string) {
			now := time.Now()
			if comic > 0 {
				if m := comicCount.FindStringSubmatch(data); m != nil {
					n, _ := strconv.ParseInt(m[1], 10, 64)
					rec.shown(comic, last[comic], n, now)
					last[comic] = max(last[comic], n)
				}
				return
			}
			rows := boardRow.FindAllStringSubmatch(data, -1)
			if len(rows) == 0 {
				return
			}
			// A row timed only if the table before held it: one that
			// comes back into the top was not late, only out of sight.
			shown := make(map[int]bool, len(rows))
			for _, m := range rows {
				num, _ := strconv.Atoi(m[1])
				n, _ := strconv.ParseInt(m[2], 10, 64)
				if inTable[num] {
					rec.shown(num, last[num], n, now)
				}
				last[num] = max(last[num], n)
				shown[num] = true
			}
			inTable = shown
		})
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			rec.ended.Add(1)
		}
	}()
	return nil
}

// viewer makes views at a steady rate, round robin over the comics.
type viewer struct {
	made, failed atomic.Int64
}

func (v *viewer) run(ctx context.Context, c config, rec *recorder) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	jobs := make(chan int, c.rate)
	// Each view waits for its commit: enough workers that a slow commit
	// does not lower the rate.
	for range 64 {
		go func() {
			for num := range jobs {
				v.view(ctx, client, c.base, num, rec)
			}
		}()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	defer close(jobs)
	next, due := 0, 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for due += float64(c.rate) / 100; due >= 1; due-- {
			select {
			case jobs <- 1 + next%c.comics:
				next++
			default: // the instance is behind; the rate achieved says so
			}
		}
	}
}

func (v *viewer) view(ctx context.Context, client *http.Client, base string, num int, rec *recorder) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/comic/"+strconv.Itoa(num), nil)
	req.Header.Set("HX-Request", "true")
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		v.failed.Add(1)
		return
	}
	defer resp.Body.Close()
	// The count is committed before the response starts.
	committed := time.Now()
	body, err := io.ReadAll(resp.Body)
	m := comicCount.FindSubmatch(body)
	if err != nil || resp.StatusCode != http.StatusOK || m == nil {
		v.failed.Add(1)
		return
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	rec.viewed(num, n, viewTimes{sent: sent, committed: committed})
	v.made.Add(1)
}

// hey runs hey against GET /random as htmx asks for it, and returns its
// requests per second.
func hey(c config, label string) (float64, error) {
	out, err := exec.Command("hey", "-z", c.heyDuration, "-c", strconv.Itoa(c.heyClients),
		"-H", "HX-Request: true", c.base+"/random").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("hey: %w: %s", err, out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("hey printed no Requests/sec: %s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	p99 := regexp.MustCompile(`99% in ([\d.]+) secs`).FindSubmatch(out)
	fmt.Printf("GET /random with %s: %.0f req/s", label, rps)
	if p99 != nil {
		fmt.Printf(", p99 %s s", p99[1])
	}
	fmt.Println()
	return rps, nil
}

func report(what string, d []time.Duration) {
	if len(d) == 0 {
		fmt.Printf("%s: no samples\n", what)
		return
	}
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(int(p*float64(len(d))), len(d)-1)] }
	fmt.Printf("%s: p50 %v, p99 %v, max %v (%d samples)\n", what,
		q(.5).Round(time.Millisecond), q(.99).Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), len(d))
}

// rss is the resident memory of process pid in bytes, 0 without one.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuTime is the user and system time process pid has used.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
