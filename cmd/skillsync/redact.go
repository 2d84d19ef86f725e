package main

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// redacted replaces every secret in output meant for people.
const redacted = "[redacted]"

// secretKey says whether a config key (the last element of its path) holds
// a secret: the LivePerson credentials, passwords, tokens.
func secretKey(name string) bool {
	name = strings.ToLower(name)
	switch name {
	case "secret", "password", "token", "authorization", "cookie", "set-cookie", "csrf", "bearer":
		return true
	}
	return strings.HasSuffix(name, "_secret") || strings.HasSuffix(name, "_password") ||
		strings.HasSuffix(name, "_token") || strings.HasSuffix(name, "-token")
}

// dsnPassword finds password=... in key=value connection strings.
var dsnPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]+)`)

// secretsOfURL returns the password of a URL or key=value connection
// string, in every form it may be printed in (raw and decoded).
func secretsOfURL(s string) []string {
	var out []string
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw)
			if _, rawPW, ok := strings.Cut(u.User.String(), ":"); ok && rawPW != pw {
				out = append(out, rawPW)
			}
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(s, -1) {
		v := m[1]
		out = append(out, v)
		if unq := strings.Trim(v, "'"); unq != v && unq != "" {
			out = append(out, unq)
		}
	}
	return out
}

// redactURL hides the password of a URL or key=value connection string,
// and the query values whose parameter names a secret (?api_key=...). It
// is applied to every string a log line carries.
func redactURL(s string) string {
	s, _ = redactQuery(s, secretParam)
	return redactPassword(s)
}

// redactPassword hides the password of a URL or key=value connection
// string.
func redactPassword(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
			return strings.Replace(u.String(), ":redacted@", ":"+redacted+"@", 1)
		}
	}
	return dsnPassword.ReplaceAllString(s, "password="+redacted)
}

// secretParam says whether a query parameter's name says it holds a
// secret: api_key, apikey, access_token, sig, password, ...
func secretParam(name string) bool {
	n := strings.ToLower(name)
	if secretKey(n) {
		return true
	}
	for _, part := range []string{"key", "token", "secret", "pass", "sig", "auth", "cred", "session"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// plainParams are query parameters of connection URLs whose values are
// settings, not secrets: config check still hides them (it hides every
// query value), but the logs do not hunt for them.
var plainParams = map[string]bool{
	"sslmode": true, "search_path": true, "application_name": true, "target_session_attrs": true,
	"connect_timeout": true, "timezone": true, "options": true,
}

// redactQuery hides the values of the query parameters of an absolute URL
// (scheme://host/...?k=v) for which hide is true, keeping the order and
// the raw form of everything else. It returns the URL and, for each value
// hidden, its raw and decoded forms (s is unchanged when it is not such
// a URL).
func redactQuery(s string, hide func(name string) bool) (string, []queryValue) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || !strings.Contains(u.RawQuery, "=") {
		return s, nil
	}
	var hidden []queryValue
	parts := strings.Split(u.RawQuery, "&")
	for i, p := range parts {
		rawKey, rawVal, ok := strings.Cut(p, "=")
		if !ok || rawVal == "" {
			continue
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if !hide(key) {
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			val = rawVal
		}
		hidden = append(hidden, queryValue{key: key, raw: rawVal, value: val})
		parts[i] = rawKey + "=" + redacted
	}
	if len(hidden) == 0 {
		return s, nil
	}
	u.RawQuery = strings.Join(parts, "&")
	return u.String(), hidden
}

// queryValue is one query parameter value hidden by redactQuery.
type queryValue struct{ key, raw, value string }

// secrets returns the forms of v the logs must hide: every value of a
// parameter named like a secret, and other values long enough not to be
// ordinary words (a short `page=2` or `sslmode=require` would otherwise
// be blanked out of every log line).
func (v queryValue) secrets() []string {
	if plainParams[strings.ToLower(v.key)] {
		return nil
	}
	if !huntable(v.value, secretParam(v.key)) {
		return nil
	}
	return []string{v.value, v.raw}
}

// huntable says whether a secret value is long enough to be hunted for in
// free text (logs, errors, what a run stores). A short value is an
// ordinary word or number: hiding every "2" of an `X-Version: 2` header
// would garble counts, plan reasons and errors ("delete_after_runs
// [redacted]"). A value under a name that says it is a secret is hunted
// from 3 characters on, any other value from 8 (the same rule as for query
// values, here and in hrsource). config check prints every such value
// redacted whatever its length: this only limits what is searched for.
func huntable(value string, namedSecret bool) bool {
	return len(value) >= 3 && (namedSecret || len(value) >= 8)
}

// redactText replaces each secret in s.
func redactText(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// redactNode rewrites, in place, every secret of an encoded config: values
// of secret keys, every header value (Authorization: Bearer ... is the
// common case), and passwords inside URLs. Each secret found is passed to
// found so the logger can be told to hide it too.
func redactNode(n *yaml.Node, found func(string)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c, found)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "headers" && v.Kind == yaml.MappingNode:
				// Every header value is printed redacted (a credential
				// may sit under any name); only those named like one,
				// or long enough, are hunted for elsewhere.
				for j := 1; j < len(v.Content); j += 2 {
					hideScalar(v.Content[j], secretParam(v.Content[j-1].Value), found)
				}
			case secretKey(k.Value) && v.Kind == yaml.ScalarNode:
				hideScalar(v, true, found)
			default:
				redactNode(v, found)
			}
		}
	case yaml.ScalarNode:
		// A URL's query may carry a secret under any name (?api_key=,
		// ?code=, ?sig=): every value is hidden from the printout.
		v, hidden := redactQuery(n.Value, func(string) bool { return true })
		for _, q := range hidden {
			for _, s := range q.secrets() {
				found(s)
			}
		}
		if secrets := secretsOfURL(n.Value); len(secrets) > 0 {
			for _, s := range secrets {
				if huntable(s, true) {
					found(s)
				}
			}
			v = redactPassword(v)
		}
		n.Value = v
	}
}

// hideScalar prints a secret-bearing value as [redacted], and passes it to
// found when it is huntable (namedSecret: its key or header name says it
// is a secret).
func hideScalar(n *yaml.Node, namedSecret bool, found func(string)) {
	if n.Kind != yaml.ScalarNode || n.Value == "" || n.Tag == "!!null" {
		return
	}
	if huntable(n.Value, namedSecret) {
		found(n.Value)
	}
	// "Bearer abc": the token alone must be hidden too, wherever it appears.
	if _, tok, ok := strings.Cut(n.Value, " "); ok && huntable(tok, false) {
		found(tok)
	}
	n.Value, n.Tag, n.Style = redacted, "!!str", 0
}

// redactedConfig returns the effective configuration as YAML with every
// secret replaced, and the list of secrets it hid.
func redactedConfig(cfg *Config) ([]byte, []string, error) {
	var n yaml.Node
	if err := n.Encode(cfg); err != nil {
		return nil, nil, err
	}
	nils := map[string]bool{}
	nilSlices(reflect.ValueOf(cfg).Elem(), "", nils)
	nullify(&n, "", nils)
	var secrets []string
	redactNode(&n, func(s string) { secrets = append(secrets, s) })
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), dedupSecrets(secrets), nil
}

// configSecrets lists the secret values of cfg, longest first so that a
// secret containing another is replaced whole.
func configSecrets(cfg *Config) []string {
	_, secrets, err := redactedConfig(cfg)
	if err != nil {
		return nil
	}
	return secrets
}

func dedupSecrets(s []string) []string {
	s = slices.DeleteFunc(s, func(v string) bool { return v == "" })
	slices.SortFunc(s, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(s)
}

// nilSlices records the key paths of the nil slices in v. yaml.v3 prints
// nil and empty slices alike as [], but here they differ: a nil setting is
// not managed, an empty one is managed and empty.
func nilSlices(v reflect.Value, path string, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			nilSlices(v.Elem(), path, out)
		}
	case reflect.Struct:
		for f := range v.Type().Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			nilSlices(v.FieldByIndex(f.Index), strings.TrimPrefix(path+"."+name, "."), out)
		}
	case reflect.Slice:
		if v.IsNil() {
			out[path] = true
			return
		}
		for i := range v.Len() {
			nilSlices(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// nullify prints the nodes at the given key paths as null.
func nullify(n *yaml.Node, path string, nils map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			nullify(c, path, nils)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
			v := n.Content[i+1]
			if nils[p] {
				*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
				continue
			}
			nullify(v, p, nils)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			nullify(c, fmt.Sprintf("%s[%d]", path, i), nils)
		}
	}
}
