//go:build ignore

// mkproxy writes a module proxy directory (the GOPROXY protocol laid out on
// disk, served with GOPROXY=file://DIR) holding the repository's public
// modules at the version they are about to be tagged with, built the way
// proxy.golang.org builds them from a tag: from the committed files of a
// revision, each module without its nested modules, with golang.org/x/mod/zip.
//
// scripts/check-install.sh copies it into a module of its own and runs it;
// it is not part of any module of the repository (hence the ignore tag).
//
// Usage:
//
//	go run . -repo ROOT -rev HEAD -version v0.1.0 -out DIR -sums FILE . pkcegin redisstore
//
// For each module (a folder of ROOT, "." for the root) it writes
// DIR/<module path>/@v/{list,VERSION.info,VERSION.mod,VERSION.zip} and
// appends the module's two go.sum lines to FILE, so that the caller can check
// that what a user's go command fetched is what was built here. It fails if a
// module's path does not match its folder (the tag FOLDER/VERSION would then
// not name it), or if a sub-module requires a release of another of these
// modules other than VERSION (releases are made in lockstep: RELEASING.md).
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mkproxy: ")
	repo := flag.String("repo", "", "absolute path of the repository's work tree")
	rev := flag.String("rev", "HEAD", `git revision to build from; "" builds from the work tree as it is`)
	version := flag.String("version", "", "the version every module is about to be tagged with, e.g. v0.1.0")
	out := flag.String("out", "", "proxy directory to write")
	sums := flag.String("sums", "", "file to write the modules' go.sum lines to")
	flag.Parse()
	if *repo == "" || *out == "" || *sums == "" || flag.NArg() == 0 {
		log.Fatal("usage: mkproxy -repo ROOT [-rev REV] -version VERSION -out DIR -sums FILE FOLDER...")
	}
	if !semver.IsValid(*version) || semver.Canonical(*version) != *version || semver.Major(*version) != "v0" && semver.Major(*version) != "v1" {
		// v2 and later would need a /v2 suffix on every module path.
		log.Fatalf("version %q: want a canonical v0 or v1 semantic version such as v0.1.0", *version)
	}

	rootPath, err := modulePath(*repo, *rev, ".")
	if err != nil {
		log.Fatal(err)
	}
	stamp := time.Now().UTC()
	if *rev != "" {
		if stamp, err = commitTime(*repo, *rev); err != nil {
			log.Fatal(err)
		}
	}

	var sumLines bytes.Buffer
	for _, folder := range flag.Args() {
		folder = path.Clean(folder)
		want := rootPath
		if folder != "." {
			want = rootPath + "/" + folder
		}
		got, err := modulePath(*repo, *rev, folder)
		if err != nil {
			log.Fatal(err)
		}
		if got != want {
			log.Fatalf("%s/go.mod: module %s; the tag %s/%s names %s", folder, got, folder, *version, want)
		}
		lines, err := writeModule(*out, *repo, *rev, folder, module.Version{Path: want, Version: *version}, rootPath, stamp)
		if err != nil {
			log.Fatalf("%s: %v", want, err)
		}
		sumLines.WriteString(lines)
	}
	if err := os.WriteFile(*sums, sumLines.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

// writeModule writes one module's files to the proxy directory and returns
// its go.sum lines.
func writeModule(out, repo, rev, folder string, m module.Version, rootPath string, stamp time.Time) (string, error) {
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(dir, m.Version)

	// The zip, as the proxy would build it from the tag.
	var zbuf bytes.Buffer
	subdir := folder
	if subdir == "." {
		subdir = ""
	}
	if rev != "" {
		err = modzip.CreateFromVCS(&zbuf, m, repo, rev, subdir)
	} else {
		err = modzip.CreateFromDir(&zbuf, m, filepath.Join(repo, filepath.FromSlash(folder)))
	}
	if err != nil {
		return "", fmt.Errorf("building the module zip: %w", err)
	}
	if err := os.WriteFile(base+".zip", zbuf.Bytes(), 0o644); err != nil {
		return "", err
	}

	// The .mod file is the go.mod inside the zip, byte for byte.
	gomod, err := zipFile(zbuf.Bytes(), m.Path+"@"+m.Version+"/go.mod")
	if err != nil {
		return "", err
	}
	if err := checkRequires(gomod, m, rootPath); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return "", err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{m.Version, stamp})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "list"), []byte(m.Version+"\n"), 0o644); err != nil {
		return "", err
	}

	zipHash, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
	if err != nil {
		return "", err
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gomod)), nil
	})
	if err != nil {
		return "", err
	}
	files, err := zipNames(zbuf.Bytes())
	if err != nil {
		return "", err
	}
	fmt.Printf("mkproxy: %s@%s: %d files, %d bytes\n", m.Path, m.Version, len(files), zbuf.Len())
	return fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", m.Path, m.Version, zipHash, m.Path, m.Version, modHash), nil
}

// checkRequires fails if the module requires another module of the
// repository at a version other than the one being released: its users
// would get that other version, not the one released beside it.
func checkRequires(gomod []byte, m module.Version, rootPath string) error {
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return err
	}
	for _, r := range f.Require {
		if r.Mod.Path != rootPath && !strings.HasPrefix(r.Mod.Path, rootPath+"/") {
			continue
		}
		if r.Mod.Version != m.Version {
			return fmt.Errorf("go.mod requires %s %s, but this release is %s: move the require line to %s (RELEASING.md)",
				r.Mod.Path, r.Mod.Version, m.Version, m.Version)
		}
	}
	return nil
}

// modulePath reads the module path from folder/go.mod at rev (or in the
// work tree when rev is "").
func modulePath(repo, rev, folder string) (string, error) {
	name := path.Join(folder, "go.mod")
	var data []byte
	var err error
	if rev != "" {
		data, err = git(repo, "show", rev+":"+name)
	} else {
		data, err = os.ReadFile(filepath.Join(repo, filepath.FromSlash(name)))
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	p := modfile.ModulePath(data)
	if p == "" {
		return "", fmt.Errorf("%s: no module line", name)
	}
	return p, nil
}

func commitTime(repo, rev string) (time.Time, error) {
	out, err := git(repo, "log", "-1", "--format=%cI", rev)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	return t.UTC(), err
}

func git(repo string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func zipFile(z []byte, name string) ([]byte, error) {
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, err
	}
	f, err := r.Open(name)
	if err != nil {
		return nil, fmt.Errorf("module zip: %w", err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

func zipNames(z []byte) ([]string, error) {
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, err
	}
	if len(r.File) == 0 {
		return nil, errors.New("module zip is empty")
	}
	names := make([]string, len(r.File))
	for i, f := range r.File {
		names[i] = f.Name
	}
	return names, nil
}
