package triggers

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestScheduleNextAllZones: in every zone of the tz database, around each change of
// its UTC offset from 2025 to 2028, and in made-up zones whose clocks change in odd
// ways (by 45 minutes at :45, by a whole day, twice in a day, back at midnight), the
// ticks of each spec are those of the documented rules, found a minute at a time: a
// wall-clock time the spec matches fires; at fixed hours, one that comes twice fires
// the first time only; one that does not exist is skipped. Next answers a time after
// the one it is given, and answers at all: a call that does not return within
// seconds fails the test.
func TestScheduleNextAllZones(t *testing.T) {
	zones := tzNames(t)
	if len(zones) < 300 {
		t.Fatalf("%d zones found: the tz database is missing", len(zones))
	}
	specs := modelSpecs(t)
	// Zones whose offsets are the same over the years looked at are alike to Next:
	// each is tried once.
	type zoneWindows struct {
		name    string
		loc     *time.Location
		windows []time.Time
	}
	var todo []zoneWindows
	seen := map[string]bool{}
	for _, name := range zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sig, changes := offsetChanges(loc, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))
		if seen[sig] {
			continue
		}
		seen[sig] = true
		if len(changes) == 0 {
			changes = []time.Time{time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)} // the days of a zone with no changes
		}
		todo = append(todo, zoneWindows{name, loc, changes})
	}
	for _, z := range madeUpZones(t) {
		_, changes := offsetChanges(z, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))
		todo = append(todo, zoneWindows{z.String(), z, changes})
	}

	// Workers, each watched: one whose Next does not return fails the test.
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan zoneWindows)
	type progress struct {
		calls atomic.Int64
		doing atomic.Pointer[nextCall] // nil: none
	}
	watch := make([]*progress, workers)
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		p := &progress{}
		watch[w] = p
		wg.Go(func() {
			for z := range jobs {
				for _, change := range z.windows {
					if failures.Load() > 20 {
						continue
					}
					checkWindow(t, z.loc, change, specs, func(c *nextCall) {
						p.doing.Store(c)
						p.calls.Add(1)
					}, &failures)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() {
		for _, z := range todo {
			jobs <- z
		}
		close(jobs)
		wg.Wait()
		close(finished)
	}()
	last := make([]int64, workers)
	stuck := make([]int, workers)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			t.Logf("%d zones alike to Next (of %d names, and made-up ones), %d specs", len(todo), len(zones), len(specs))
			return
		case <-tick.C:
			for w, p := range watch {
				n := p.calls.Load()
				if n != last[w] || p.doing.Load() == nil {
					last[w], stuck[w] = n, 0
					continue
				}
				if stuck[w]++; stuck[w] >= 10 {
					c := p.doing.Load()
					t.Fatalf("%s %q: Next(%v) gave no answer within 10s", c.loc, c.spec, c.at.In(c.loc))
				}
			}
		}
	}
}

// nextCall is a call of Next under way.
type nextCall struct {
	loc  *time.Location
	spec string
	at   time.Time
}

// modelSpec is a spec and whether it is at fixed hours: a time that comes twice
// fires once.
type modelSpec struct {
	spec  string
	once  bool
	sched *cron.SpecSchedule
}

// modelSpecs: each hour at :00, :15, :30 and :45, and specs of every quarter hour,
// every hour, a day, a week and a month.
func modelSpecs(t *testing.T) []modelSpec {
	var specs []modelSpec
	add := func(spec string, once bool) {
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, modelSpec{spec, once, sched.(*cron.SpecSchedule)})
	}
	for h := range 24 {
		for _, m := range []int{0, 15, 30, 45} {
			add(fmt.Sprintf("%d %d * * *", m, h), true)
		}
	}
	for spec, once := range map[string]bool{
		"*/15 * * * *": false, "30 * * * *": false, "45 * * * *": false, "0 0-23 * * *": false,
		"@daily": true, "0 9 * * MON-FRI": true, "30 2 * * SUN": true, "0 0 * * SUN": true,
		"0 0 1 * *": true, "45 2 1,4,5,26,27 * *": true, "*/10 1-3 * * *": true,
	} {
		add(spec, once)
	}
	return specs
}

// minute is a whole minute of the model: its instant, the wall clock then, and
// whether that wall-clock time came before.
type minute struct {
	at                                time.Time
	month, day, weekday, hour, minute int
	again                             bool
}

// checkWindow checks each spec's ticks from two days before change to two days
// after it against the model's, and Next from times near the change that are no
// ticks.
func checkWindow(t *testing.T, loc *time.Location, change time.Time, specs []modelSpec, calling func(*nextCall), failures *atomic.Int64) {
	from, until := change.Truncate(time.Minute).Add(-48*time.Hour), change.Truncate(time.Minute).Add(48*time.Hour)
	// The model: every whole minute, from two days before the window (a wall-clock
	// time comes again at most a day or so later) to its end.
	var mins []minute
	first := map[time.Time]int{}
	for at := from.Add(-48 * time.Hour); !at.After(until); at = at.Add(time.Minute) {
		l := at.In(loc)
		if _, o := l.Zone(); o%60 != 0 {
			t.Errorf("%s: an offset of %ds is not in whole minutes", loc, o)
			failures.Add(1)
			return
		}
		w := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
		_, again := first[w]
		if !again {
			first[w] = len(mins)
		}
		mins = append(mins, minute{at, int(l.Month()), l.Day(), int(l.Weekday()), l.Hour(), l.Minute(), again})
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		failures.Add(1)
	}
	for _, sp := range specs {
		s := &Schedule{Cron: sp.sched, Spec: sp.spec, Location: loc, fixedHours: fixedHours(sp.sched)}
		var ticks []time.Time
		for _, m := range mins {
			if m.at.After(from) && modelMatches(sp.sched, m) && !(sp.once && m.again) {
				ticks = append(ticks, m.at)
			}
		}
		// expect is the model's first tick after at, or the zero time when it is past
		// the window.
		expect := func(at time.Time) time.Time {
			i := sort.Search(len(ticks), func(i int) bool { return ticks[i].After(at) })
			if i == len(ticks) {
				return time.Time{}
			}
			return ticks[i]
		}
		next := func(at time.Time) time.Time {
			calling(&nextCall{loc, sp.spec, at})
			return s.Next(at)
		}
		check := func(at time.Time) (time.Time, bool) {
			got, want := next(at), expect(at)
			if !got.IsZero() && !got.After(at) {
				fail("%s %q: Next(%v) = %v, not after it", loc, sp.spec, at.In(loc), got.In(loc))
				return got, false
			}
			if want.IsZero() && (got.IsZero() || got.After(until)) {
				return got, true
			}
			if !got.Equal(want) {
				fail("%s %q: Next(%v) = %v, want %v", loc, sp.spec, at.In(loc), got.In(loc), want.In(loc))
				return got, false
			}
			return got, true
		}
		// Tick after tick.
		for at := from; ; {
			got, ok := check(at)
			if !ok || !got.Before(until) {
				break
			}
			at = got
		}
		// From times near the change that are no ticks, 7 minutes and 7.5 seconds apart.
		for at := change.Add(-2 * time.Hour); at.Before(change.Add(2 * time.Hour)); at = at.Add(427500 * time.Millisecond) {
			if _, ok := check(at); !ok {
				break
			}
		}
		if failures.Load() > 20 {
			return
		}
	}
	calling(nil)
}

// modelMatches reports whether the wall clock of m is one of sched's times, with
// cron's rule for the days: when the day of the month or of the week is *, both must
// match; when neither is, either may.
func modelMatches(sched *cron.SpecSchedule, m minute) bool {
	in := func(field uint64, n int) bool { return field&(1<<uint(n)) != 0 }
	const star = 1 << 63
	day := in(sched.Dom, m.day) && in(sched.Dow, m.weekday)
	if sched.Dom&star == 0 && sched.Dow&star == 0 {
		day = in(sched.Dom, m.day) || in(sched.Dow, m.weekday)
	}
	return day && in(sched.Month, m.month) && in(sched.Hour, m.hour) && in(sched.Minute, m.minute)
}

// offsetChanges returns the times from from to until at which loc's offset changes,
// and a signature of its offsets then: zones with the same one are alike.
func offsetChanges(loc *time.Location, from, until time.Time) (string, []time.Time) {
	var changes []time.Time
	at := from.In(loc)
	_, o := at.Zone()
	sig := fmt.Sprint(o)
	for {
		_, end := at.ZoneBounds()
		if end.IsZero() || end.After(until) {
			return sig, changes
		}
		if _, eo := end.Zone(); eo != o {
			changes = append(changes, end)
			sig += fmt.Sprintf(" %d:%d", end.Unix(), eo)
			o = eo
		}
		at = end
	}
}

// tzNames lists the zones of the tz database: Go's own copy, or the system's.
func tzNames(t *testing.T) []string {
	var names []string
	if r, err := zip.OpenReader(filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip")); err == nil {
		defer r.Close()
		for _, f := range r.File {
			if !strings.HasSuffix(f.Name, "/") {
				names = append(names, f.Name)
			}
		}
		return names
	}
	const dir = "/usr/share/zoneinfo"
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		name, _ := filepath.Rel(dir, path)
		if b, err := os.ReadFile(path); err == nil && strings.HasPrefix(string(b), "TZif") &&
			!strings.HasPrefix(name, "posix/") && !strings.HasPrefix(name, "right/") {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names
}

// madeUpZones are zones whose clocks change as no zone's do today, but might: back
// and forward by 45 minutes at :45 and :15, a whole day back and forward (across the
// date line), twice within hours, back an hour and a half at midnight, and by a
// minute.
func madeUpZones(t *testing.T) []*time.Location {
	type change struct {
		at     time.Time // UTC
		offset time.Duration
	}
	utc := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
	}
	h, m := time.Hour, time.Minute
	zones := []struct {
		name    string
		initial time.Duration
		changes []change
	}{
		{"Test/Back45At45", 5*h + 45*m, []change{
			{utc(3, 29, 22, 0), 5 * h},        // 03:45 +05:45 to 03:00 +05:00
			{utc(10, 25, 21, 15), 5*h + 45*m}, // 02:15 +05:00 to 03:00 +05:45
		}},
		{"Test/DateLine", -10 * h, []change{
			{utc(3, 1, 10, 0), 14 * h},  // 00:00 on 1 March to 00:00 on 2 March
			{utc(9, 1, 10, 0), -10 * h}, // back a day: 2 September comes again
		}},
		{"Test/TwiceADay", 1 * h, []change{
			{utc(5, 10, 1, 0), 2 * h},
			{utc(5, 10, 5, 0), 1 * h},
			{utc(5, 10, 22, 10), 30 * m},
			{utc(5, 11, 1, 50), 1 * h},
		}},
		{"Test/BackAtMidnight", 3 * h, []change{
			{utc(6, 6, 21, 0), 90 * m},  // midnight +03:00 to 22:30 the day before
			{utc(12, 5, 22, 30), 3 * h}, // midnight +01:30 to 02:30
		}},
		{"Test/AMinute", 2 * h, []change{
			{utc(7, 1, 0, 0), 2*h - m},   // 02:00 to 01:59: a minute comes twice
			{utc(8, 1, 0, 0), 2*h + 6*m}, // 01:59 to 02:06
		}},
	}
	var locs []*time.Location
	for _, z := range zones {
		// TZif, version 1: the counts, then the times of the changes, the type of each,
		// the types (offset, DST, abbreviation), and the abbreviation.
		var b []byte
		b = append(b, "TZif"...)
		b = append(b, make([]byte, 16)...)
		for _, n := range []int{0, 0, 0, len(z.changes), len(z.changes) + 1, 4} {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		for _, c := range z.changes {
			b = binary.BigEndian.AppendUint32(b, uint32(int32(c.at.Unix())))
		}
		for i := range z.changes {
			b = append(b, byte(i+1))
		}
		for _, o := range append([]time.Duration{z.initial}, func() (os []time.Duration) {
			for _, c := range z.changes {
				os = append(os, c.offset)
			}
			return os
		}()...) {
			b = binary.BigEndian.AppendUint32(b, uint32(int32(o/time.Second)))
			b = append(b, 0, 0)
		}
		b = append(b, "TST\x00"...)
		loc, err := time.LoadLocationFromTZData(z.name, b)
		if err != nil {
			t.Fatalf("%s: %v", z.name, err)
		}
		locs = append(locs, loc)
	}
	return locs
}
