package domain

import "time"

// Level is a department's administrative level.
type Level string

// The administrative levels.
const (
	LevelNational   Level = "national"
	LevelProvincial Level = "provincial"
	LevelMunicipal  Level = "municipal"
	LevelCounty     Level = "county"
	LevelTownship   Level = "township"
)

// Levels lists every level, from the top.
var Levels = []Level{LevelNational, LevelProvincial, LevelMunicipal, LevelCounty, LevelTownship}

// Valid reports whether l is a known level.
func (l Level) Valid() bool {
	for _, x := range Levels {
		if l == x {
			return true
		}
	}
	return false
}

// Department is a member of the consortium: one Fabric organization, named by
// its MSP ID, with a profile it maintains itself.
type Department struct {
	MSPID     string    `json:"mspId"`
	Name      string    `json:"name"`
	Code      string    `json:"code"`
	Level     Level     `json:"level"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy Actor     `json:"updatedBy"`
}

// DepartmentInput is the profile a department's admin sets.
type DepartmentInput struct {
	Name  string `json:"name"`
	Code  string `json:"code"`
	Level Level  `json:"level"`
}

// Validate checks the profile.
func (in DepartmentInput) Validate() error {
	if err := CheckText("name", in.Name, true, MaxTitleLen); err != nil {
		return err
	}
	if err := CheckID("code", in.Code); err != nil {
		return err
	}
	if !in.Level.Valid() {
		return Errorf(CodeInvalid, "level %q must be one of national, provincial, municipal, county, township", in.Level)
	}
	return nil
}
