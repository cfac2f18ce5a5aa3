package irtoonnx

import (
	"fmt"
	"strings"
)

// Untranslated is one layer that could not be translated.
type Untranslated struct {
	// Type and Version are the layer's op ("Foo", "opset3").
	Type, Version string
	// Layer is the layer's name.
	Layer string
	// Reason says what is missing: "" for an op with no translator, else
	// the attribute value or input that is not translated.
	Reason string
}

func (u Untranslated) String() string {
	s := fmt.Sprintf("%s-%s (layer '%s')", u.Type, u.Version, u.Layer)
	if u.Reason != "" {
		s += ": " + u.Reason
	}
	return s
}

// UntranslatedError lists every layer of a model that could not be
// translated.
type UntranslatedError struct {
	// IRVersion is the model's IR version.
	IRVersion int
	// Layers are the untranslated layers in graph order.
	Layers []Untranslated
}

func (e *UntranslatedError) Error() string {
	parts := make([]string, len(e.Layers))
	for i, u := range e.Layers {
		parts[i] = u.String()
	}
	return fmt.Sprintf("IR version %d model has %d operation(s) ovms cannot translate to ONNX: %s",
		e.IRVersion, len(e.Layers), strings.Join(parts, "; "))
}

// Unsupported returns the error a translator gives for an attribute value
// or input form it does not translate; Translate lists it with the layer.
func Unsupported(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}
