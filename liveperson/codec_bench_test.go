package liveperson

import (
	"fmt"
	"strings"
	"testing"
)

// fullUsers is a Users API list of n users with every field the API
// returns (passwordSh, which it never returns, left out).
func fullUsers(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"deleted":false,"loginName":"agent%d","fullName":"","nickname":"Agent %d",`+
			`"isEnabled":true,"maxChats":4,"email":"p%d@example.com","pictureUrl":"https://cdn.example.com/a/%d.png",`+
			`"disabledManually":false,"skillIds":[%d],"profiles":[{"id":3,"name":"Agent","roleTypeId":1}],"profileIds":[3],`+
			`"lobIds":[1,2],"changePwdNextLogin":false,"memberOf":{"agentGroupId":-1,"assignmentDate":"2024-03-01 09:00:00"},`+
			`"managerOf":[],"permissionGroups":[],"description":"Customer care agent","mobileNumber":"+1-555-%07d",`+
			`"employeeId":"","maxAsyncChats":10,"backgndImgUri":"","pnCertName":"","dateUpdated":"2025-11-02 10:11:12",`+
			`"lastPwdChangeDate":"2025-10-01 08:00:00","isApiUser":false,"userTypeId":1,"dateCreated":"2023-01-15 12:00:00","allowedAppKeys":"",`+
			`"note":"say \"hi\"\n"}`,
			i+1, i+1, i+1, i+1, i+1, i%2000+1, i+1)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkEncodeUsers50 encodes one PUT of 50 full users, as an
// assignment batch sends them (passwordSh null, skillIds changed).
func BenchmarkEncodeUsers50(b *testing.B) {
	users, err := decodeUsers(fullUsers(50), true)
	if err != nil {
		b.Fatal(err)
	}
	for i := range users {
		users[i].SkillIDs = append(users[i].SkillIDs, 4000)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(encodeUsers(users, true))
	}
	b.ReportMetric(float64(n), "bytes/batch")
}

// BenchmarkDecodeUsers20k decodes a list of 20,000 full users.
func BenchmarkDecodeUsers20k(b *testing.B) {
	data := fullUsers(20_000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeUsers(data, false); err != nil {
			b.Fatal(err)
		}
	}
}
