package hrsource

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// vendor describes a connector: a preset over the http source with the
// paging, authentication and record shapes its vendor documents.
type vendor struct {
	// name is how messages call it.
	name string
	// methods are the hr.auth methods it takes, the usual one first.
	methods []string
	// recordsPath and nextPagePath locate the records and the next page's
	// URL in a JSON page.
	recordsPath, nextPagePath string
	// urlHelp says what hr.url must be.
	urlHelp string
	// authHint says what to check after a 401 or 403.
	authHint string
	// errorHeader is a response header in which the vendor explains an
	// error (quoted with the status).
	errorHeader string
}

// vendors are the connectors, by hr.type.
var vendors = map[string]*vendor{
	TypeWorkday: {
		name: "Workday", methods: []string{AuthBasic, AuthOAuth2RefreshToken},
		recordsPath: "Report_Entry",
		urlHelp:     "the report's URL as Workday shows it (the report's Actions > Web Service > View URLs), https://HOST/ccx/service/customreport2/TENANT/OWNER/REPORT",
		authHint:    "check hr.auth: the integration system user's name and password (basic), or the API client and the user's refresh token (oauth2_refresh_token); the user's security group needs Get access to the report's data sources",
	},
	TypeBambooHR: {
		name: "BambooHR", methods: []string{AuthAPIKey},
		recordsPath: "employees",
		authHint:    "check hr.auth.token: the API key of a BambooHR user allowed to see every field of the report",
		errorHeader: "X-BambooHR-Error-Message",
	},
	TypeSuccessFactors: {
		name: "SuccessFactors", methods: []string{AuthBasic, AuthBearer, AuthOAuth2ClientCredentials, AuthOAuth2RefreshToken},
		recordsPath: "d.results", nextPagePath: "d.__next",
		urlHelp:  "the entity URL on your data centre's API server, https://HOST/odata/v2/User",
		authHint: "check hr.auth: basic takes user@companyId and the API user's password; the user needs the OData API permissions and read access to the entity",
	},
}

// BambooHRMaxFields is how many fields BambooHR's custom report endpoint
// takes in one request.
const BambooHRMaxFields = 400

// bambooHRURL is the custom report endpoint BambooHR documents, for a
// company subdomain.
const bambooHRURL = "https://api.bamboohr.com/api/gateway.php/%s/v1/reports/custom"

// request is what every page request of a source sends besides its URL.
type request struct {
	method      string
	body        []byte
	contentType string
}

// planRequest returns the first page's URL and the request of cfg's
// source; columns are those the records must carry (neededColumns).
func planRequest(cfg Config, columns []string) (*url.URL, request, error) {
	req := request{method: cmpOr(cfg.HTTPMethod, http.MethodGet)}
	if cfg.Body != "" {
		req.body, req.contentType = []byte(cfg.Body), "application/json"
	}
	raw := cfg.URL
	if raw == "" && cfg.Type == TypeBambooHR {
		raw = fmt.Sprintf(bambooHRURL, url.PathEscape(cfg.Subdomain))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, req, fmt.Errorf("hr.url: %w", err)
	}
	switch cfg.Type {
	case TypeWorkday:
		// The report's URL as Workday shows it may carry another format
		// (or none): skillsync reads JSON.
		u.RawQuery = setParam(u.RawQuery, "format", "json")
	case TypeBambooHR:
		fields := bambooHRFields(cfg, columns)
		if len(fields) > BambooHRMaxFields {
			return nil, req, fmt.Errorf("bamboohr: the report needs %d fields, more than the %d BambooHR takes in one request: use fewer columns in hr.fields, hr.active and the rules", len(fields), BambooHRMaxFields)
		}
		body, err := json.Marshal(struct {
			Title  string   `json:"title"`
			Fields []string `json:"fields"`
		}{"skillsync", fields})
		if err != nil {
			return nil, req, err
		}
		// BambooHR reads the body as JSON only when Content-Type is
		// exactly application/json (with a charset it parses XML).
		req = request{method: http.MethodPost, body: body, contentType: "application/json"}
		u.RawQuery = setParam(u.RawQuery, "format", "JSON")
	case TypeSuccessFactors:
		q := u.Query()
		u.RawQuery = setParam(u.RawQuery, "$format", "json")
		if !q.Has("$select") {
			sel, expand := odataSelect(cfg, columns)
			u.RawQuery = setParam(u.RawQuery, "$select", strings.Join(sel, ","))
			for _, e := range strings.Split(q.Get("$expand"), ",") {
				if e = strings.TrimSpace(e); e != "" && !slices.Contains(expand, e) {
					expand = append(expand, e)
				}
			}
			if len(expand) > 0 {
				slices.Sort(expand)
				u.RawQuery = setParam(u.RawQuery, "$expand", strings.Join(expand, ","))
			}
		}
		if cfg.Filter != "" {
			u.RawQuery = setParam(u.RawQuery, "$filter", cfg.Filter)
		}
	}
	return u, req, nil
}

// neededColumns lists the columns the records must carry: those hr.fields,
// hr.active, hr.multi_value, hr.stats_attributes and hr.columns name, and
// extra (the rules' columns, which the caller knows), sorted.
func neededColumns(cfg Config, extra []string) []string {
	var out []string
	cfg.Fields.eachField(func(_, col string) {
		if col != "" {
			out = append(out, col)
		}
	})
	// Validate has compiled the expression: it parses.
	active, _ := ExprColumns(cfg.Active)
	out = append(out, active...)
	out = append(out, sortedKeys(cfg.MultiValue)...)
	out = append(out, cfg.StatsAttributes...)
	out = append(out, sortedKeys(cfg.Columns)...)
	out = append(out, extra...)
	slices.Sort(out)
	return slices.Compact(out)
}

// columnPath is where a column's value sits in a record: the path
// hr.columns gives it, its own path (a name holding "/"), or its dotted
// name split (a flattened nested object).
func columnPath(cfg Config, col string) fieldPath {
	if p, ok := cfg.Columns[col]; ok {
		if fp, err := parsePath(p); err == nil {
			return fp
		}
	}
	if isPath(col) {
		if fp, err := parsePath(col); err == nil {
			return fp
		}
	}
	return fieldPath(strings.Split(col, "."))
}

// bambooHRFields is the custom report's field list: the top-level field
// of every needed column (BambooHR's fields are flat).
func bambooHRFields(cfg Config, columns []string) []string {
	var out []string
	for _, col := range neededColumns(cfg, columns) {
		if p := columnPath(cfg, col); len(p) > 0 && p[0] != "" {
			out = append(out, p[0])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// odataSelect returns the $select items of the needed columns and the
// navigation properties to $expand for them (manager/email needs manager
// expanded; empInfo/jobInfoNav/results/0/department selects
// empInfo/jobInfoNav/department and expands empInfo/jobInfoNav).
func odataSelect(cfg Config, columns []string) (sel, expand []string) {
	for _, col := range neededColumns(cfg, columns) {
		p := columnPath(cfg, col).odata()
		if len(p) == 0 || strings.HasPrefix(p[0], "__") {
			continue // __metadata and the like come with every entity
		}
		sel = append(sel, strings.Join(p, "/"))
		if len(p) > 1 {
			expand = append(expand, strings.Join(p[:len(p)-1], "/"))
		}
	}
	slices.Sort(sel)
	slices.Sort(expand)
	return slices.Compact(sel), slices.Compact(expand)
}

// setParam returns the raw query with every key parameter replaced by
// key=value, keeping the others exactly as written (a Workday prompt such
// as Worker_Type!WID=... stays as Workday printed it).
func setParam(raw, key, value string) string {
	var parts []string
	for p := range strings.SplitSeq(raw, "&") {
		if p == "" {
			continue
		}
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == key {
			continue
		}
		parts = append(parts, p)
	}
	// %20 rather than +: OData servers read a + literally.
	parts = append(parts, key+"="+strings.ReplaceAll(url.QueryEscape(value), "+", "%20"))
	return strings.Join(parts, "&")
}
