package hrsource

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// writeStaffCSV writes n generated staff rows (about 100 bytes each) to a
// CSV file in dir and returns its path and size.
func writeStaffCSV(tb testing.TB, dir string, n int) (string, int64) {
	tb.Helper()
	path := filepath.Join(dir, "staff.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	depts := []string{"Sales", "Research & Development", "Human Resources"}
	roles := []string{"Sales Executive", "Research Scientist", "Laboratory Technician", "Manager", "Healthcare Representative"}
	langs := []string{"en", "en;fr", "de;en", "es", "en;pt;es"}
	fmt.Fprintln(w, "EmployeeNumber,Email,Name,Department,JobRole,Attrition,Languages,Age")
	for i := range n {
		attr := "No"
		if i%6 == 0 {
			attr = "Yes"
		}
		fmt.Fprintf(w, "%d,employee%d@example.com,\"Employee %d, Jr\",%s,%s,%s,%s,%d\r\n",
			100000+i, i, i, depts[i%3], roles[i%5], attr, langs[i%5], 20+i%45)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return path, st.Size()
}

func staffConfig(path string) Config {
	return Config{
		Type:            TypeCSV,
		Path:            path,
		Fields:          FieldsConfig{ID: "EmployeeNumber", Email: "Email", Name: "Name"},
		Active:          `Attrition == "No"`,
		MultiValue:      map[string]string{"Languages": ";"},
		StatsAttributes: []string{"Department", "JobRole", "Languages"},
	}
}

// heapSampler records the peak of live heap objects while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// BenchmarkCSV100k reads, maps and validates a generated 100,000-row CSV
// (~10 MB). Besides time, MB/s and allocations it reports the bytes
// allocated per read, the peak live heap during a read and the heap the
// snapshot keeps, against the file size.
func BenchmarkCSV100k(b *testing.B) {
	path, size := writeStaffCSV(b, b.TempDir(), 100_000)
	benchRead(b, staffConfig(path), size)
}

// BenchmarkJSON100k is BenchmarkCSV100k for the same rows as a JSON array
// of objects with a nested one ({"work": {"email": ...}}).
func BenchmarkJSON100k(b *testing.B) {
	path, size := writeStaffJSON(b, b.TempDir(), 100_000)
	cfg := staffConfig(path)
	cfg.Type = TypeJSON
	cfg.Fields.Email = "work.email"
	benchRead(b, cfg, size)
}

func benchRead(b *testing.B, cfg Config, size int64) {
	src, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sampler := startHeapSampler()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	var snap *Snapshot
	for b.Loop() {
		// Measure one read at a time: drop the previous snapshot first.
		b.StopTimer()
		snap = nil
		runtime.GC()
		b.StartTimer()
		snap, err = src.Read(context.Background())
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	peak := sampler.Stop()
	if snap.Stats.Records != 100_000 || snap.Stats.Active != 83_333 {
		b.Fatalf("stats = %+v", snap.Stats)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.GC()
	var retained runtime.MemStats
	runtime.ReadMemStats(&retained)
	runtime.KeepAlive(snap)
	const mb = 1 << 20
	b.ReportMetric(float64(size)/mb, "file-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/mb, "alloc-MB/op")
	b.ReportMetric(float64(peak-before.HeapAlloc)/mb, "peak-heap-MB")
	b.ReportMetric(float64(peak-before.HeapAlloc)/float64(size), "peak/file")
	b.ReportMetric(float64(retained.HeapAlloc-before.HeapAlloc)/mb, "snapshot-MB")
}

// writeStaffJSON writes the rows of writeStaffCSV as a JSON array.
func writeStaffJSON(tb testing.TB, dir string, n int) (string, int64) {
	tb.Helper()
	path := filepath.Join(dir, "staff.json")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	depts := []string{"Sales", "Research & Development", "Human Resources"}
	roles := []string{"Sales Executive", "Research Scientist", "Laboratory Technician", "Manager", "Healthcare Representative"}
	langs := []string{"en", "en;fr", "de;en", "es", "en;pt;es"}
	fmt.Fprint(w, "[")
	for i := range n {
		if i > 0 {
			fmt.Fprint(w, ",\n")
		}
		attr := "No"
		if i%6 == 0 {
			attr = "Yes"
		}
		fmt.Fprintf(w, `{"EmployeeNumber":%d,"work":{"email":"employee%d@example.com"},"Name":"Employee %d, Jr","Department":%q,"JobRole":%q,"Attrition":%q,"Languages":%q,"Age":%d}`,
			100000+i, i, i, depts[i%3], roles[i%5], attr, langs[i%5], 20+i%45)
	}
	fmt.Fprint(w, "]\n")
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return path, st.Size()
}

// BenchmarkEnv measures building a record's full expression environment
// (what sync's rules use), fresh and into a reused map.
func BenchmarkEnv(b *testing.B) {
	snap, err := ReadFile(context.Background(), "../testdata/ibm-hr-employee-attrition.csv", Config{Fields: FieldsConfig{ID: "EmployeeNumber"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Env", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = snap.Records[i%len(snap.Records)].Env()
			i++
		}
	})
	b.Run("EnvInto", func(b *testing.B) {
		b.ReportAllocs()
		env := map[string]any{}
		i := 0
		for b.Loop() {
			env = snap.Records[i%len(snap.Records)].EnvInto(env)
			i++
		}
	})
}

// BenchmarkActive compares evaluating hr.active with the small environment
// of the attributes it reads against the full Env of every record.
func BenchmarkActive(b *testing.B) {
	snap, err := ReadFile(context.Background(), "../testdata/ibm-hr-employee-attrition.csv", Config{Fields: FieldsConfig{ID: "EmployeeNumber"}})
	if err != nil {
		b.Fatal(err)
	}
	a, err := compileActive(`Attrition == "No"`, nil)
	if err != nil {
		b.Fatal(err)
	}
	small, _ := newEvaluator(a, snap.Schema)
	full, _ := newEvaluator(&activeExpr{source: a.source, program: a.program, whole: true}, snap.Schema)
	for _, bc := range []struct {
		name string
		ev   *evaluator
	}{{"small-env", small}, {"full-env", full}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := bc.ev.eval(&snap.Records[i%len(snap.Records)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// connectorDocs builds the pages of n records in the shape each vendor
// connector reads (see the fakes in workday_test.go, bamboohr_test.go and
// successfactors_test.go), with the configuration that reads them.
func connectorDocs(n int) []struct {
	name  string
	cfg   Config
	pages [][]byte
} {
	depts := []string{"Customer Care", "Sales", "Billing", "Technical Support"}
	titles := []string{"Agent", "Senior Agent", "Team Lead", "Supervisor", "Trainer"}
	skills := []string{"French", "Spanish", "German", "Portuguese"}
	var wd, bamboo bytes.Buffer
	wd.WriteString(`{"Report_Entry": [`)
	bamboo.WriteString(`{"title": "skillsync", "fields": [{"id": "displayName", "type": "text", "name": "Display name"}], "employees": [`)
	var sfPages [][]byte
	var sf bytes.Buffer
	for i := range n {
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		active := i%6 != 0
		fmt.Fprintf(&wd, `%s{"Employee_ID": "%d", "Worker": "Worker %d", "Email_-_Work": "worker%d@acme.com", "Cost_Center": %q, "Job_Profile": %q, "Active_Status": "%d", "Worker_Skills_group": [{"Skill": %q}, {"Skill": %q}]}`,
			sep, 100000+i, i, i, depts[i%4], titles[i%5], map[bool]int{true: 1, false: 0}[active], skills[i%4], skills[(i+1)%4])
		status := map[bool]string{true: "Active", false: "Inactive"}[active]
		fmt.Fprintf(&bamboo, `%s{"id": "%d", "displayName": "Employee %d", "workEmail": "employee%d@acme.com", "department": %q, "jobTitle": %q, "status": %q, "customShiftPattern": "early"}`,
			sep, i+1, i, i, depts[i%4], titles[i%5], status)
		if i%1000 == 0 {
			sf.Reset()
			sf.WriteString(`{"d": {"results": [`)
		} else {
			sf.WriteString(",")
		}
		fmt.Fprintf(&sf, `{"__metadata": {"uri": "https://api4.successfactors.com/odata/v2/User('u%d')", "type": "SFOData.User"}, "userId": "u%d", "email": "user%d@acme.com", "status": %q, "division": %q, "manager": {"__metadata": {"uri": "https://api4.successfactors.com/odata/v2/User('m%d')", "type": "SFOData.User"}, "email": "boss%d@acme.com"}, "empInfo": {"__metadata": {"type": "SFOData.EmpEmployment"}, "jobInfoNav": {"results": [{"__metadata": {"type": "SFOData.EmpJob"}, "department": %q}]}}}`,
			i, i, i, map[bool]string{true: "t", false: "f"}[active], depts[i%4], i%50, i%50, titles[i%5])
		if i%1000 == 999 || i == n-1 {
			sf.WriteString(`]`)
			if i < n-1 {
				fmt.Fprintf(&sf, `, "__next": "https://api4.successfactors.com:443/odata/v2/User?$format=json&$skiptoken=%d"`, i+1)
			}
			sf.WriteString(`}}`)
			sfPages = append(sfPages, bytes.Clone(sf.Bytes()))
		}
	}
	wd.WriteString("]}\n")
	bamboo.WriteString("]}\n")
	return []struct {
		name  string
		cfg   Config
		pages [][]byte
	}{
		{"workday", Config{Type: TypeWorkday, Fields: FieldsConfig{ID: "Employee_ID", Email: "Email_-_Work", Name: "Worker"},
			Active: `Active_Status == "1"`, Columns: map[string]string{"First_Skill": "Worker_Skills_group/0/Skill"}}, [][]byte{wd.Bytes()}},
		{"bamboohr", Config{Type: TypeBambooHR, Fields: FieldsConfig{ID: "id", Email: "workEmail", Name: "displayName"},
			Active: `status == "Active"`}, [][]byte{bamboo.Bytes()}},
		{"successfactors", Config{Type: TypeSuccessFactors, Fields: FieldsConfig{ID: "userId", Email: "email"},
			Active: `status == "t"`, Columns: map[string]string{"Department": "empInfo/jobInfoNav/results/0/department"}}, sfPages},
	}
}

// BenchmarkConnectorDecode100k decodes 100,000 records in each vendor
// connector's shape (Workday's Report_Entry in one document, BambooHR's
// employees, SuccessFactors' d.results in 100 pages of 1,000 linked by
// __next) through the decoder its Read uses, then maps and validates them:
// what a read costs once the bytes have arrived.
func BenchmarkConnectorDecode100k(b *testing.B) {
	for _, doc := range connectorDocs(100_000) {
		b.Run(doc.name, func(b *testing.B) {
			cfg := doc.cfg.WithDefaults()
			active, err := compileActive(cfg.Active, cfg.MultiValue)
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			for _, p := range doc.pages {
				size += int64(len(p))
			}
			b.SetBytes(size)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				c := newCollector(&cfg, active)
				for i, page := range doc.pages {
					c.sizeHint = 0
					if i == 0 {
						c.sizeHint = int64(len(page)) // as httpSource.Read does
					}
					c.readJSONBytes(page, fmt.Sprintf("page %d", i+1), cfg.RecordsPath, cfg.NextPagePath)
				}
				snap, err := c.finish(doc.name)
				if err != nil {
					b.Fatal(err)
				}
				if snap.Stats.Records != 100_000 || snap.Stats.Active != 83_333 {
					b.Fatalf("stats = %+v", snap.Stats)
				}
			}
			// The machine is shared: CPU time per read says what the work
			// costs when ns/op also counts the wait for a core.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(size)/(1<<20), "doc-MB")
		})
	}
}
