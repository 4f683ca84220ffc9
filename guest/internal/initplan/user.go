package initplan

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Credential is a resolved user.
type Credential struct {
	UID, GID uint32
	// Groups are the supplementary groups (from /etc/group membership).
	Groups []uint32
	// Home is the user's home directory from /etc/passwd, "/" when unknown.
	Home string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser resolves an OCI User value ("", "uid", "name", "uid:gid",
// "name:group", ...) against the image's /etc/passwd and /etc/group
// contents (nil when the image lacks them). Numeric ids need no entry; a
// name must exist. Without a group, the primary group comes from passwd
// (0 when the uid has no entry). Supplementary groups are the groups that
// list the user's name as a member.
func ResolveUser(spec string, passwd, group []byte) (Credential, error) {
	users, err := parsePasswd(passwd)
	if err != nil {
		return Credential{}, fmt.Errorf("/etc/passwd: %v", err)
	}
	groups, err := parseGroup(group)
	if err != nil {
		return Credential{}, fmt.Errorf("/etc/group: %v", err)
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		if hasGroup {
			return Credential{}, fmt.Errorf("user %q: empty user name", spec)
		}
		userPart = "0"
	}
	cred := Credential{Home: "/"}
	var name string
	if id, ok := parseID(userPart); ok {
		cred.UID = id
		for _, u := range users {
			if u.uid == id {
				cred.GID, cred.Home, name = u.gid, u.home, u.name
				break
			}
		}
	} else {
		found := false
		for _, u := range users {
			if u.name == userPart {
				cred.UID, cred.GID, cred.Home, name, found = u.uid, u.gid, u.home, u.name, true
				break
			}
		}
		if !found {
			if !isName(userPart) {
				return Credential{}, fmt.Errorf("user %q: %q is out of range (0..%d)", spec, userPart, math.MaxInt32)
			}
			return Credential{}, fmt.Errorf("user %q: no user %q in the image's /etc/passwd", spec, userPart)
		}
	}
	if hasGroup {
		if groupPart == "" {
			return Credential{}, fmt.Errorf("user %q: empty group", spec)
		}
		if id, ok := parseID(groupPart); ok {
			cred.GID = id
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					cred.GID, found = g.gid, true
					break
				}
			}
			if !found {
				if !isName(groupPart) {
					return Credential{}, fmt.Errorf("user %q: group %q is out of range (0..%d)", spec, groupPart, math.MaxInt32)
				}
				return Credential{}, fmt.Errorf("user %q: no group %q in the image's /etc/group", spec, groupPart)
			}
		}
	}
	if cred.Home == "" {
		cred.Home = "/"
	}
	if name != "" {
		seen := map[uint32]bool{cred.GID: true}
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && !seen[g.gid] {
					seen[g.gid] = true
					cred.Groups = append(cred.Groups, g.gid)
				}
			}
		}
	}
	return cred, nil
}

// parseID accepts decimal ids 0..2^31-1 (the range the kernel and runc
// accept without ambiguity).
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return uint32(n), true
}

// isName reports whether s is not a number at all (a name): a number
// that failed parseID is out of range.
func isName(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return true
		}
	}
	return false
}

func parsePasswd(data []byte) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(data, func(n int, f []string) error {
		// Malformed entries (NIS "+" lines, damage) are skipped, as libc
		// and runc do, rather than failing every user lookup.
		if len(f) < 7 {
			return nil
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			return nil
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
		return nil
	})
	return out, err
}

func parseGroup(data []byte) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(data, func(n int, f []string) error {
		if len(f) < 4 {
			return nil
		}
		gid, ok := parseID(f[2])
		if !ok {
			return nil
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, groupEntry{name: f[0], gid: gid, members: members})
		return nil
	})
	return out, err
}

// eachLine calls fn with the colon-separated fields of every line that is
// not blank or a comment.
func eachLine(data []byte, fn func(n int, fields []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(n, strings.Split(line, ":")); err != nil {
			return err
		}
	}
	return sc.Err()
}
