package deploy

import (
	"encoding/json"
	"testing"
)

// TestGrafanaDashboard checks the dashboard's structure (the main module's
// TestMetricsAndDeployQueries checks that every query uses a metric
// skillsync exports): every panel has a unique id, a place on the grid and
// the dashboard's data source variable, and every query panel has queries.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	type target struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	}
	type panel struct {
		ID         int      `json:"id"`
		Type       string   `json:"type"`
		Title      string   `json:"title"`
		Targets    []target `json:"targets"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Panels  []panel                  `json:"panels"`
	}
	var dash struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(mustRead(t, "grafana/skillsync.json"), &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d", dash.UID, dash.Title, dash.SchemaVersion)
	}
	if len(dash.Templating.List) == 0 || dash.Templating.List[0].Name != "datasource" || dash.Templating.List[0].Type != "datasource" {
		t.Errorf("the first variable is not the Prometheus data source: %+v", dash.Templating.List)
	}
	ids := map[int]bool{}
	queries := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("panel %q: id %d not unique", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.Title == "" || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: title or grid position %+v", p.Title, p.GridPos)
			}
			if p.Type != "row" {
				if len(p.Targets) == 0 || p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q: no queries, or not on ${datasource}", p.Title)
				}
				for _, tg := range p.Targets {
					queries++
					if tg.Expr == "" || tg.RefID == "" || tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q: query %+v", p.Title, tg)
					}
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if queries < 15 {
		t.Errorf("%d queries", queries)
	}
}
