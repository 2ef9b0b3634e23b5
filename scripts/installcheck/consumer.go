//go:build ignore

// A user's program, as a newcomer would write it from the README after
// go get of the core and the public sub-modules: a Gin authorization server
// whose PKCE challenges live in Redis, its rollout counted for Prometheus. scripts/check-install.sh builds and
// vets it in a fresh module outside the repository, against the modules
// fetched from a module proxy; it is not part of any module of the
// repository (hence the ignore tag, which the script removes).
package main

import (
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/go-pkce/pkce"
	"github.com/go-pkce/pkce/pkcegin"
	"github.com/go-pkce/pkce/pkceprom"
	"github.com/go-pkce/pkce/redisstore"

	// The audit kit and the store conformance suite: public packages of the
	// core module, imported so that they are built too.
	_ "github.com/go-pkce/pkce/pkcetest"
	_ "github.com/go-pkce/pkce/storetest"
)

func main() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	metrics, err := pkceprom.New(pkceprom.Options{})
	if err != nil {
		log.Fatal(err)
	}
	prometheus.MustRegister(metrics)
	m, err := pkce.New(pkce.Config{Store: redisstore.New(client), OnEvent: metrics.Observe})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.GET("/authorize", pkcegin.Authorize(m), func(c *gin.Context) {
		c.Redirect(http.StatusFound, c.Query("redirect_uri")+"?code=issued")
	})
	r.POST("/token", pkcegin.Token(m), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"access_token": "at", "token_type": "Bearer"})
	})
	r.GET("/.well-known/oauth-authorization-server", pkcegin.Discovery(m), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"issuer": "https://as.example"})
	})
	_ = r // built and vetted, never run: no Redis is needed
}
