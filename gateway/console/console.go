// Package console serves the gateway's web console: static pages (plain
// JavaScript and SVG, no build step) embedded in the binary, that sign a
// person in with their bearer token and draw the consortium, the
// leaderboard, the data-flow graph, provenance timelines, metering and the
// catalog from the public /v1 routes of the same gateway. The Go side only
// serves files; every figure comes from the API in the browser.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/gin-gonic/gin"
)

// Prefix is where the console lives; "/" redirects there.
const Prefix = "/console/"

//go:embed static
var static embed.FS

// contentSecurityPolicy keeps the console to its own origin: its scripts,
// styles and API calls all come from the gateway that serves it, so an
// injected script or a third-party resource cannot run or load.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, read once at start.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the embedded console.
type Handler struct {
	assets map[string]asset
}

// New reads the embedded files. Their ETag is the SHA-256 of their bytes:
// embedded files have no modification time, and a hash lets a browser
// revalidate cheaply and never keep a file from an older gateway build.
func New() (*Handler, error) {
	return newHandler(static, "static")
}

func newHandler(fsys fs.FS, root string) (*Handler, error) {
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	h := &Handler{assets: map[string]asset{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Dir(p) != "." {
			return fmt.Errorf("console: %s: assets must sit in one flat folder", p)
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		h.assets[p] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := h.assets["index.html"]; !ok {
		return nil, fmt.Errorf("console: no index.html among the embedded assets")
	}
	return h, nil
}

// Register mounts the console on r: GET / redirects to /console/, which
// serves index.html, and /console/{file} the other assets. Call it after
// the router's middleware is in place, so that the console's requests are
// logged and counted like the API's.
func Register(r *gin.Engine) error {
	h, err := New()
	if err != nil {
		return err
	}
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, Prefix) })
	r.GET(Prefix, func(c *gin.Context) { h.serve(c, "index.html") })
	r.GET(Prefix+":file", func(c *gin.Context) { h.serve(c, c.Param("file")) })
	return nil
}

func (h *Handler) serve(c *gin.Context, name string) {
	a, ok := h.assets[name]
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "the console has no file " + name}})
		return
	}
	w := c.Writer.Header()
	w.Set("Content-Type", a.contentType)
	w.Set("ETag", a.etag)
	w.Set("Cache-Control", "no-cache")
	w.Set("X-Content-Type-Options", "nosniff")
	w.Set("Referrer-Policy", "no-referrer")
	w.Set("Content-Security-Policy", contentSecurityPolicy)
	// ServeContent answers If-None-Match with 304 and handles ranges.
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(a.body))
}
