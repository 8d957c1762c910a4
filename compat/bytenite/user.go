package bytenite

import (
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// contactInfo is userContactInfo. Every field is present, "" when unset.
type contactInfo struct {
	Company     string `json:"company"`
	JobTitle    string `json:"jobTitle"`
	PhoneNumber string `json:"phoneNumber"`
	Address1    string `json:"address1"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	State       string `json:"state"`
	Zip         string `json:"zip"`
	Country     string `json:"country"`
}

// userJSON is userUser, from the caller's principal. coffer keeps no
// e-mail, photo, login time or onboarding: those fields hold their zero
// values (lastLogin null), or the principal's attribute of the same name
// when one was set natively (email, photoUrl).
type userJSON struct {
	ID             string            `json:"id"`
	CreatedAt      string            `json:"createdAt"`
	LastLogin      *string           `json:"lastLogin"`
	DisplayName    string            `json:"displayName"`
	Email          string            `json:"email"`
	Settings       map[string]any    `json:"settings"`
	PhotoURL       string            `json:"photoUrl"`
	ProviderID     string            `json:"providerId"`
	EmailVerified  bool              `json:"emailVerified"`
	CustomClaims   map[string]string `json:"customClaims"`
	Role           string            `json:"role"`
	FirstName      string            `json:"firstName"`
	LastName       string            `json:"lastName"`
	ContactInfo    contactInfo       `json:"contactInfo"`
	Disabled       bool              `json:"disabled"`
	IsOnboarded    bool              `json:"isOnboarded"`
	OnboardingInfo []any             `json:"onboardingInfo"`
	UserName       string            `json:"userName"`
}

// Principal attributes of the profile; contactInfo's fields are kept as
// "contactInfo.<field>".
const (
	attrFirstName = "firstName"
	attrLastName  = "lastName"
	attrEmail     = "email"
	attrPhotoURL  = "photoUrl"
	attrContact   = "contactInfo."
)

// contactFields names contactInfo's fields and where each is kept in the
// wire struct, in the order ByteNite lists them.
var contactFields = []struct {
	name string
	get  func(*contactInfo) *string
}{
	{"company", func(c *contactInfo) *string { return &c.Company }},
	{"jobTitle", func(c *contactInfo) *string { return &c.JobTitle }},
	{"phoneNumber", func(c *contactInfo) *string { return &c.PhoneNumber }},
	{"address1", func(c *contactInfo) *string { return &c.Address1 }},
	{"address2", func(c *contactInfo) *string { return &c.Address2 }},
	{"city", func(c *contactInfo) *string { return &c.City }},
	{"state", func(c *contactInfo) *string { return &c.State }},
	{"zip", func(c *contactInfo) *string { return &c.Zip }},
	{"country", func(c *contactInfo) *string { return &c.Country }},
}

func toUser(p *coffer.Principal, admin bool) userJSON {
	a := p.Attributes
	u := userJSON{
		ID: p.ID, CreatedAt: protoTime(p.CreatedAt), Email: a[attrEmail], Settings: map[string]any{},
		PhotoURL: a[attrPhotoURL], ProviderID: "coffer", CustomClaims: map[string]string{}, Role: "ROLE_NONE",
		FirstName: a[attrFirstName], LastName: a[attrLastName], IsOnboarded: true, OnboardingInfo: []any{},
		UserName: p.Name,
	}
	for _, f := range contactFields {
		*f.get(&u.ContactInfo) = a[attrContact+f.name]
	}
	u.DisplayName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	if u.DisplayName == "" {
		u.DisplayName = p.Name
	}
	if admin {
		u.CustomClaims["role"] = "admin"
	}
	return u
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, p *coffer.Principal) error {
	c := coffer.CallerFrom(r.Context())
	return web.WriteJSON(w, http.StatusOK, struct {
		User userJSON `json:"user"`
	}{toUser(p, c != nil && c.Admin)})
}

// getUser answers GET /user with the caller's principal.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Service.Profile(r.Context())
	if err != nil {
		return err
	}
	return s.writeUser(w, r, p)
}

// contactPatch is the contactInfo of a PATCH /user: a field that is present
// replaces the stored one ("" clears it), one left out stays.
type contactPatch struct {
	Company     *string `json:"company"`
	JobTitle    *string `json:"jobTitle"`
	PhoneNumber *string `json:"phoneNumber"`
	Address1    *string `json:"address1"`
	Address2    *string `json:"address2"`
	City        *string `json:"city"`
	State       *string `json:"state"`
	Zip         *string `json:"zip"`
	Country     *string `json:"country"`
}

// patchUserRequest is the body of PATCH /user. As with grpc-gateway's
// update masks made from the body, only the fields present change.
type patchUserRequest struct {
	FirstName   *string       `json:"firstName"`
	LastName    *string       `json:"lastName"`
	ContactInfo *contactPatch `json:"contactInfo"`
}

// maxProfileField bounds each profile field, in bytes of UTF-8.
const maxProfileField = 255

// changes lists the attributes the request sets ("" removes one).
func (req *patchUserRequest) changes() (map[string]string, error) {
	ch := map[string]string{}
	set := func(field, attr string, v *string) error {
		if v == nil {
			return nil
		}
		if len(*v) > maxProfileField {
			return coffer.Errorf(coffer.EINVALID, "%s is longer than %d bytes", field, maxProfileField)
		}
		ch[attr] = *v
		return nil
	}
	if err := set("firstName", attrFirstName, req.FirstName); err != nil {
		return nil, err
	}
	if err := set("lastName", attrLastName, req.LastName); err != nil {
		return nil, err
	}
	if c := req.ContactInfo; c != nil {
		for _, f := range []struct {
			name string
			v    *string
		}{
			{"company", c.Company}, {"jobTitle", c.JobTitle}, {"phoneNumber", c.PhoneNumber},
			{"address1", c.Address1}, {"address2", c.Address2}, {"city", c.City},
			{"state", c.State}, {"zip", c.Zip}, {"country", c.Country},
		} {
			if err := set("contactInfo."+f.name, attrContact+f.name, f.v); err != nil {
				return nil, err
			}
		}
	}
	return ch, nil
}

// patchUser answers PATCH /user: it keeps firstName, lastName and
// contactInfo with the caller's principal and answers the user as stored.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	var req patchUserRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ch, err := req.changes()
	if err != nil {
		return err
	}
	var p *coffer.Principal
	if len(ch) == 0 {
		p, err = s.Service.Profile(r.Context())
	} else {
		p, err = s.Service.UpdateProfile(r.Context(), ch)
	}
	if err != nil {
		return err
	}
	return s.writeUser(w, r, p)
}

// versionJSON is commonVersion: int64 numbers as strings. major and minor
// are the API's (/v1), tag is coffer's build.
type versionJSON struct {
	Major string `json:"major"`
	Minor string `json:"minor"`
	Tag   string `json:"tag"`
}

// info answers GET /info.
func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	tag := "coffer"
	if s.Version != "" {
		tag += " " + s.Version
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Version versionJSON `json:"version"`
	}{versionJSON{Major: "1", Minor: "0", Tag: tag}})
}
