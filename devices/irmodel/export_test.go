package irmodel

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
)

// DecodeDisagreement decodes data with decodeNet and with encoding/xml's
// reflection (what Parse did before decodeNet), and describes how the
// results differ; "" when they agree.
func DecodeDisagreement(data []byte) string {
	var walked, reflected xmlNet
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	errW := decodeNet(dec, &walked)
	dec = xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	errR := dec.Decode(&reflected)
	if (errW == nil) != (errR == nil) || (errW != nil && errW.Error() != errR.Error()) {
		return fmt.Sprintf("errors differ: decodeNet %v, Decode %v", errW, errR)
	}
	if errW == nil && !reflect.DeepEqual(walked, reflected) {
		return fmt.Sprintf("documents differ:\ndecodeNet %+v\nDecode    %+v", walked, reflected)
	}
	return ""
}
