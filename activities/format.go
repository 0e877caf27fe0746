package activities

import (
	"github.com/streampipe/streampipe/datasets"
)

// formatUser is the seed pipeline's format_data: it builds the Kafka record from one
// user in randomuser.me's shape, whichever source made it.
func formatUser(u apiUser, id, source string) datasets.User {
	l := u.Location
	return datasets.User{
		ID:        id,
		FirstName: u.Name.First,
		LastName:  u.Name.Last,
		Gender:    u.Gender,
		Address: string(l.Street.Number) + " " + l.Street.Name + ", " +
			l.City + ", " + l.State + ", " + l.Country,
		PostCode:       string(l.Postcode),
		Email:          u.Email,
		Username:       u.Login.Username,
		DOB:            u.DOB.Date,
		RegisteredDate: u.Registered.Date,
		Phone:          u.Phone,
		Picture:        u.Picture.Medium,
		Source:         source,
	}
}
