package httpapi

// route is one entry of the API: a method and a net/http path pattern, the
// handler, and whether it is served without an API key. The table is data
// so that tests can walk every route (the OpenAPI drift test, the tenant
// isolation test).
type route struct {
	method  string
	path    string
	handler handler
	public  bool
}

// routes returns every route of the API. Nothing is routed anywhere else.
func (s *server) routes() []route {
	return []route{
		{method: "GET", path: "/healthz", handler: s.healthz, public: true},
		{method: "GET", path: "/readyz", handler: s.readyz, public: true},
		{method: "GET", path: "/openapi.json", handler: s.openAPI, public: true},
		{method: "GET", path: "/metrics", handler: s.serveMetrics, public: true},

		{method: "POST", path: "/v1/pathways", handler: s.createPathway},
		{method: "GET", path: "/v1/pathways", handler: s.listPathways},
		{method: "GET", path: "/v1/pathways/{id}", handler: s.getPathway},

		{method: "POST", path: "/v1/pathways/{id}/activities", handler: s.createActivity},
		{method: "GET", path: "/v1/pathways/{id}/activities", handler: s.listActivities},

		{method: "POST", path: "/v1/pathways/{id}/rewards", handler: s.createReward},
		{method: "GET", path: "/v1/pathways/{id}/rewards", handler: s.listRewards},
		{method: "POST", path: "/v1/pathways/{id}/rewards/{reward_id}/awards", handler: s.awardReward},

		{method: "POST", path: "/v1/pathways/{id}/enrolments", handler: s.enrol},
		{method: "GET", path: "/v1/pathways/{id}/enrolments", handler: s.listEnrolments},
		{method: "GET", path: "/v1/pathways/{id}/enrolments/{learner_id}", handler: s.getEnrolment},
		{method: "POST", path: "/v1/pathways/{id}/enrolments/{learner_id}/completions", handler: s.complete},

		{method: "POST", path: "/v1/activities/{id}/attendance", handler: s.setAttendance},

		{method: "GET", path: "/v1/pathways/{id}/webhooks", handler: s.listWebhooks},
		{method: "GET", path: "/v1/webhooks/{id}", handler: s.getWebhook},
		{method: "PUT", path: "/v1/webhooks/{id}", handler: s.setupWebhook},
		{method: "PATCH", path: "/v1/webhooks/{id}", handler: s.switchWebhook},
		{method: "POST", path: "/v1/webhooks/{id}/secret", handler: s.generateSecret},
		{method: "POST", path: "/v1/webhooks/{id}/test", handler: s.testWebhook},

		{method: "GET", path: "/v1/webhooks/{id}/deliveries", handler: s.listDeliveries},
		{method: "GET", path: "/v1/deliveries/{id}", handler: s.getDelivery},
		{method: "POST", path: "/v1/deliveries/{id}/redeliver", handler: s.redeliver},

		{method: "POST", path: "/v1/api-keys", handler: s.createAPIKey},
		{method: "GET", path: "/v1/api-keys", handler: s.listAPIKeys},
		{method: "DELETE", path: "/v1/api-keys/{id}", handler: s.revokeAPIKey},
	}
}
