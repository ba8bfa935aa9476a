package sqlstore

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
)

// assign stores a value that the driver returned into dest, for the
// destinations that this package scans into, with database/sql's
// conversions among them. Byte slices are copied, as database/sql copies
// them: a driver may reuse its buffer for the next row.
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(v)
	case *string:
		s, err := asString(v)
		if err != nil {
			return err
		}
		*d = s
	case **string:
		if v == nil {
			*d = nil
			return nil
		}
		s, err := asString(v)
		if err != nil {
			return err
		}
		*d = &s
	case *int64:
		n, err := asInt64(v)
		if err != nil {
			return err
		}
		*d = n
	case *int:
		n, err := asInt64(v)
		if err != nil {
			return err
		}
		*d = int(n)
	case **int:
		if v == nil {
			*d = nil
			return nil
		}
		n, err := asInt64(v)
		if err != nil {
			return err
		}
		i := int(n)
		*d = &i
	case *bool:
		b, err := driver.Bool.ConvertValue(v)
		if err != nil {
			return err
		}
		*d = b.(bool)
	case *[]byte:
		switch v := v.(type) {
		case nil:
			*d = nil
		case []byte:
			*d = bytes.Clone(v)
		case string:
			*d = []byte(v)
		default:
			return fmt.Errorf("cannot store %T in %T", v, dest)
		}
	case *any:
		*d = v
	default:
		return fmt.Errorf("cannot store %T in %T", v, dest)
	}
	return nil
}

func asString(v driver.Value) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case nil:
		return "", fmt.Errorf("cannot store NULL in a string")
	}
	return "", fmt.Errorf("cannot store %T in a string", v)
}

func asInt64(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	case nil:
		return 0, fmt.Errorf("cannot store NULL in an integer")
	}
	return 0, fmt.Errorf("cannot store %T in an integer", v)
}
