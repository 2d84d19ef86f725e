package main

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/skillsync/skillsync/hrsource"
	"github.com/skillsync/skillsync/internal/secret"
)

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
					hideScalar(v.Content[j], secret.Param(v.Content[j-1].Value), found)
				}
			case secret.Key(k.Value) && v.Kind == yaml.ScalarNode:
				hideScalar(v, true, found)
			case k.Value == "body" && v.Kind == yaml.ScalarNode:
				// hr.body may carry credentials ({"password": "..."}):
				// the ones the HR source hides from its errors are hidden
				// here too.
				for _, s := range hrsource.BodySecrets(v.Value) {
					found(s)
					v.Value = strings.ReplaceAll(v.Value, s, secret.Redacted)
				}
			default:
				redactNode(v, found)
			}
		}
	case yaml.ScalarNode:
		// A URL's query may carry a secret under any name (?api_key=,
		// ?code=, ?sig=): every value is hidden from the printout.
		v, hidden := secret.HideQuery(n.Value, func(string) bool { return true })
		for _, q := range hidden {
			for _, s := range q.Secrets() {
				found(s)
			}
		}
		if secrets := secret.OfURL(n.Value); len(secrets) > 0 {
			for _, s := range secrets {
				if secret.Huntable(s, true) {
					found(s)
				}
			}
			v = secret.HidePassword(v)
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
	if secret.Huntable(n.Value, namedSecret) {
		found(n.Value)
	}
	// "Bearer abc": the token alone must be hidden too, wherever it appears.
	if _, tok, ok := strings.Cut(n.Value, " "); ok && secret.Huntable(tok, false) {
		found(tok)
	}
	n.Value, n.Tag, n.Style = secret.Redacted, "!!str", 0
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
	hideNotifyURLs(&n, func(s string) { secrets = append(secrets, s) })
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
	return out.Bytes(), secret.Sort(secrets), nil
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
