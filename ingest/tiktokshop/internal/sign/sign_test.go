package sign

import (
	"net/url"
	"testing"
)

// The expected signs were computed independently of any Go code, with
// Python's hmac module, from the reference's algorithm (section 2.4):
//
//	secret = "s3cr3t-app-secret"
//	s = path + "".join(k + q[k] for k in sorted(q))   # sign/access_token excluded
//	msg = secret + s + body + secret
//	hmac.new(secret, msg, sha256).hexdigest()
var signVectors = []struct {
	name, path, contentType string
	query                   url.Values
	body                    string
	want                    string
}{
	{
		name: "POST with body", path: "/order/202309/orders/search", contentType: "application/json",
		query: url.Values{"app_key": {"6abc123"}, "timestamp": {"1697708762"}, "shop_cipher": {"ROW_TEST"}, "page_size": {"20"},
			"sort_field": {"update_time"}, "sort_order": {"ASC"}, "sign": {"ignored"}, "access_token": {"ignored"}},
		body: `{"update_time_ge":1697700000,"update_time_lt":1697708000}`,
		want: "2b95240681f3d9b4ee300935464df1907babb8fee99d7585274d2195f2333d8b",
	},
	{
		name: "GET with comma-joined ids", path: "/order/202309/orders", contentType: "application/json",
		query: url.Values{"app_key": {"6abc123"}, "timestamp": {"1697708762"}, "shop_cipher": {"ROW_TEST"},
			"ids": {"576461413038785752", "576461413038785753"}},
		want: "676a8064590bf8c14ffad87deda011440b1ff4dbab165e27282cc850a6b8108e",
	},
}

func TestSignKnownAnswers(t *testing.T) {
	const secret = "s3cr3t-app-secret"
	for _, v := range signVectors {
		if got := Request(secret, v.path, v.query, []byte(v.body), v.contentType); got != v.want {
			t.Errorf("%s: Request = %s, want %s", v.name, got, v.want)
		}
	}
	// multipart bodies are not signed; a GET has no body to sign.
	q := url.Values{"app_key": {"k"}}
	if Request("s", "/p", q, []byte("file bytes"), "multipart/form-data; boundary=x") != Request("s", "/p", q, nil, "") {
		t.Error("multipart body was signed")
	}
	if Request("s", "/p", q, []byte("{}"), "application/json") == Request("s", "/p", q, nil, "") {
		t.Error("JSON body was not signed")
	}
}

// FuzzSign checks on arbitrary inputs that a sign is 64 hex digits and that
// what is excluded stays excluded. The seeds run as a normal test.
func FuzzSign(f *testing.F) {
	for _, v := range signVectors {
		f.Add("s3cr3t", v.path, "page_size", "20", "shop_cipher", "ROW_x", []byte(v.body), v.contentType)
	}
	f.Add("", "", "", "", "sign", "x", []byte{}, "")
	f.Add("ü", "/a b", "k", "v1,v2", "access_token", "t", []byte{0, 1, 2}, "multipart/form-data")
	f.Add("s", "/p", "a", "", "b", "", []byte("{}"), "text/plain; charset=utf-8")
	f.Fuzz(func(t *testing.T, secret, path, k1, v1, k2, v2 string, body []byte, contentType string) {
		q := url.Values{}
		q.Add(k1, v1)
		q.Add(k2, v2)
		got := Request(secret, path, q, body, contentType)
		if len(got) != 64 {
			t.Fatalf("sign %q is not 64 hex digits", got)
		}
		// sign and access_token never take part.
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("sign", "x"+v1)
		q2.Set("access_token", "y"+v2)
		if Request(secret, path, q2, body, contentType) != Request(secret, path, withoutAuth(q), body, contentType) {
			t.Fatal("sign or access_token changed the signature")
		}
	})
}

func withoutAuth(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != "sign" && k != "access_token" {
			out[k] = v
		}
	}
	return out
}
