package ui

import (
	"net/http"

	"github.com/pathhook/pathhook"
)

type pathwaysPage struct {
	base
	Pathways []pathhook.Pathway
	Cursor   string // this page's cursor, "" on the first
	Next     string // the next page's cursor, "" on the last
}

func (h *handler) pathways(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwaysWith(w, r, a, http.StatusOK, nil)
}

func (h *handler) pathwaysWith(w http.ResponseWriter, r *http.Request, a *actor, status int, f *form) {
	cursor := r.URL.Query().Get("cursor")
	ps, next, err := h.svc.Pathways(r.Context(), a.orgID, pathhook.Page{Cursor: cursor})
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p := &pathwaysPage{base: h.base(a, "Pathways"), Pathways: ps, Cursor: cursor, Next: next}
	p.Form = f
	h.render(w, r, status, "pathways", p)
}

var pathwayFields = []string{"name", "description"}

func (h *handler) createPathway(w http.ResponseWriter, r *http.Request, a *actor) {
	p, err := h.svc.CreatePathway(r.Context(), a.orgID, pathhook.PathwayInput{
		Name: r.PostFormValue("name"), Description: r.PostFormValue("description")})
	if err != nil {
		if f, status, ok := failedForm("pathway", r, pathwayFields, err); ok {
			h.pathwaysWith(w, r, a, status, f)
			return
		}
		h.fail(w, r, a, err)
		return
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: "Pathway created. Its three webhooks are waiting, disabled, under API & Webhooks.",
		Link: "#webhooks", LinkText: "Set them up"})
	http.Redirect(w, r, "/pathways/"+p.ID, http.StatusSeeOther)
}

type pathwayPage struct {
	base
	Pathway    *pathhook.Pathway
	Activities []pathhook.Activity
	Rewards    []pathhook.Reward
	Enrolments []pathhook.Enrolment
	// EnrolCursor is the enrolments page's cursor, EnrolNext the next one's.
	EnrolCursor, EnrolNext string
	Webhooks               []webhookRow
	Kinds                  []string
	RewardKinds            []string
}

// webhookRow is a webhook as the pathway page lists it: with the numbers
// of its last 24 hours for a sparkline.
type webhookRow struct {
	pathhook.Webhook
	Stats *stats
}

// ActivityTitle returns the title of the pathway's activity id, for the
// reward list.
func (p *pathwayPage) ActivityTitle(id *string) string {
	if id == nil {
		return ""
	}
	for _, a := range p.Activities {
		if a.ID == *id {
			return a.Title
		}
	}
	return *id
}

func (h *handler) pathway(w http.ResponseWriter, r *http.Request, a *actor) {
	h.pathwayWith(w, r, a, http.StatusOK, nil)
}

// pathwayWith renders a pathway's page; f, if set, is a form of it that
// failed and status says how.
func (h *handler) pathwayWith(w http.ResponseWriter, r *http.Request, a *actor, status int, f *form) {
	ctx, id := r.Context(), r.PathValue("id")
	pw, err := h.svc.Pathway(ctx, a.orgID, id)
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p := &pathwayPage{Pathway: pw, EnrolCursor: r.URL.Query().Get("enrolments"),
		Kinds:       []string{pathhook.ActivityOnline, pathhook.ActivityClassroom, pathhook.ActivityEvent},
		RewardKinds: []string{pathhook.RewardBadge, pathhook.RewardCertificate, pathhook.RewardPoints}}
	if p.Activities, err = h.svc.Activities(ctx, a.orgID, id); err == nil {
		if p.Rewards, err = h.svc.Rewards(ctx, a.orgID, id); err == nil {
			p.Enrolments, p.EnrolNext, err = h.svc.Enrolments(ctx, a.orgID, id, pathhook.Page{Cursor: p.EnrolCursor})
		}
	}
	for _, wh := range pw.Webhooks {
		if err != nil {
			break
		}
		row := webhookRow{Webhook: wh}
		row.Stats, err = h.stats(ctx, a.orgID, wh.ID, false)
		p.Webhooks = append(p.Webhooks, row)
	}
	if err != nil {
		h.fail(w, r, a, err)
		return
	}
	p.base = h.base(a, pw.Name, crumb{"Pathways", "/pathways"}, crumb{Text: pw.Name})
	p.Form = f
	h.render(w, r, status, "pathway", p)
}

// pathwayForm handles a form of the pathway page: do runs the change; on
// an error that the form can show, the page is shown again with it.
func (h *handler) pathwayForm(w http.ResponseWriter, r *http.Request, a *actor, name, section string, fields []string,
	ok string, do func() error) {
	if err := do(); err != nil {
		if f, status, shown := failedForm(name, r, fields, err); shown {
			h.pathwayWith(w, r, a, status, f)
			return
		}
		h.fail(w, r, a, err)
		return
	}
	h.sessions.setFlash(r.Context(), a.sid, &flash{Kind: "ok", Message: ok})
	http.Redirect(w, r, "/pathways/"+r.PathValue("id")+"#"+section, http.StatusSeeOther)
}
