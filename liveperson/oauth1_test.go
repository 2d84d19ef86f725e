package liveperson

import (
	"net/url"
	"strings"
	"testing"
)

func TestOAuth1RFCExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		url       string
		form      [][2]string
		oauth     [][2]string
		creds     oauth1Credentials
		wantBase  string // empty: not published
		wantSig   string // empty: not published
		wantNoSig bool
	}{
		{
			// RFC 5849 §3.1 and §3.4.1.1: the published signature base
			// string. The RFC does not publish the secrets behind its
			// signature (bYT5CMsGcbgUdFHObYMEfcx6bsw=), so only the base
			// string is checked here; the signature algorithm is checked by
			// the §1.2 example below.
			name:   "RFC 5849 3.4.1.1 base string",
			method: "POST",
			url:    "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
			form:   [][2]string{{"c2", ""}, {"a3", "2 q"}},
			oauth: [][2]string{
				{"realm", "Example"},
				{"oauth_consumer_key", "9djdj82h48djs9d2"},
				{"oauth_token", "kkk9d7dh3k39sjv7"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "137131201"},
				{"oauth_nonce", "7d8f3e4a"},
			},
			wantBase: "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
				"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
				"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
				"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
				"9d7dh3k39sjv7",
		},
		{
			// RFC 5849 §1.2: the photos example, with its published secrets
			// and signature (oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D").
			name:   "RFC 5849 1.2 photos request",
			method: "GET",
			url:    "http://photos.example.net/photos?file=vacation.jpg&size=original",
			oauth: [][2]string{
				{"realm", "Photos"},
				{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
				{"oauth_token", "nnch734d00sl2jdk"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "137131202"},
				{"oauth_nonce", "chapoH"},
			},
			creds:   oauth1Credentials{consumerSecret: "kd94hf93k423kf44", tokenSecret: "pfkkdhi9sl3r4s00"},
			wantSig: "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
		},
		{
			// OAuth Core 1.0 Appendix A.5: base string and signature.
			name:   "OAuth Core 1.0 A.5",
			method: "GET",
			url:    "http://photos.example.net/photos?file=vacation.jpg&size=original",
			oauth: [][2]string{
				{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
				{"oauth_token", "nnch734d00sl2jdk"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "1191242096"},
				{"oauth_nonce", "kllo9940pd9333jh"},
				{"oauth_version", "1.0"},
			},
			creds: oauth1Credentials{consumerSecret: "kd94hf93k423kf44", tokenSecret: "pfkkdhi9sl3r4s00"},
			wantBase: "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26" +
				"oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26" +
				"oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26" +
				"oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal",
			wantSig: "tR3+Ty81lMeYAr/Fid0kMTYa/WM=",
		},
		{
			// LivePerson's case: select=$all is sent as %24all and signed
			// as such; a non-default port is kept, the default one dropped.
			name:   "port kept, query as on the wire",
			method: "GET",
			url:    "https://Va.AC.liveperson.net:8443/api/account/1/configuration/le-users/skills?v=4.0&select=%24all",
			oauth:  [][2]string{{"oauth_consumer_key", "k"}},
			wantBase: "GET&https%3A%2F%2Fva.ac.liveperson.net%3A8443%2Fapi%2Faccount%2F1%2Fconfiguration%2Fle-users%2Fskills&" +
				"oauth_consumer_key%3Dk%26select%3D%2524all%26v%3D4.0",
		},
		{
			name:     "default port dropped",
			method:   "delete",
			url:      "https://host:443/p",
			oauth:    [][2]string{{"oauth_consumer_key", "k"}},
			wantBase: "DELETE&https%3A%2F%2Fhost%2Fp&oauth_consumer_key%3Dk",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			base := oauth1BaseString(tt.method, u, tt.form, tt.oauth)
			if tt.wantBase != "" && base != tt.wantBase {
				t.Fatalf("base string\n got %s\nwant %s", base, tt.wantBase)
			}
			if tt.wantSig != "" {
				if sig := oauth1Signature(tt.method, u, tt.form, tt.oauth, tt.creds); sig != tt.wantSig {
					t.Fatalf("signature %s, want %s", sig, tt.wantSig)
				}
			}
		})
	}
}

func TestOAuth1Header(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("https://h/p?v=4.0&select=%24all")
	cr := oauth1Credentials{consumerKey: "ck", consumerSecret: "cs", token: "tk", tokenSecret: "ts"}
	h := oauth1Header("GET", u, nil, cr, "n1", "100")
	for _, want := range []string{`OAuth oauth_consumer_key="ck"`, `oauth_nonce="n1"`, `oauth_timestamp="100"`,
		`oauth_token="tk"`, `oauth_version="1.0"`, `oauth_signature_method="HMAC-SHA1"`, `oauth_signature="`} {
		if !strings.Contains(h, want) {
			t.Errorf("header %s lacks %s", h, want)
		}
	}
	if strings.Contains(h, "cs") && strings.Contains(h, `"cs"`) || strings.Contains(h, `"ts"`) {
		t.Errorf("header %s carries a secret", h)
	}
	// A different nonce changes the signature: each attempt is signed anew.
	if h2 := oauth1Header("GET", u, nil, cr, "n2", "100"); h2 == h {
		t.Errorf("same header for a different nonce")
	}
}

func TestPercentEncode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"abcABC123-._~": "abcABC123-._~",
		"$all":          "%24all",
		"a b+c":         "a%20b%2Bc",
		"é":             "%C3%A9",
		"=&%":           "%3D%26%25",
	} {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
