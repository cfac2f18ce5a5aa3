package cli

// This file is `ovms convert`: the IR -> ONNX translation that serving does
// at load time, run offline to write an .onnx file.

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/devices/irtoonnx"
	"github.com/ovmsgo/ovms/devices/onnxmodel"
)

// convertCommand is `ovms convert MODEL.xml -o MODEL.onnx [--opset N]`:
// translate an OpenVINO IR model into an ONNX file, print the inputs,
// outputs and the ops translated (count per op), or every op that could
// not be translated (exit 1). Exit 64 on a usage error.
func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "translate an OpenVINO IR model (.xml + .bin) into an ONNX file, as serving does when it loads IR",
		ArgsUsage: "MODEL.xml",
		UsageText: "ovms convert model.xml -o model.onnx [--opset 21] [--bin model.bin]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the ONNX file to write (replaced atomically)"},
			&cli.IntFlag{Name: "opset", Value: irtoonnx.DefaultOpset, Usage: fmt.Sprintf("ONNX opset to build for (%d to %d)", irtoonnx.MinOpset, irtoonnx.MaxOpset)},
			&cli.StringFlag{Name: "bin", Usage: "the weights file (default: the .xml path with .bin instead)"},
		},
		Action: convertAction,
	}
}

func convertAction(c *cli.Context) error {
	if err := oneArg(c, "convert", "IR model file (.xml)"); err != nil {
		return err
	}
	out := c.String("output")
	if out == "" {
		return fmt.Errorf("%w: convert: where to? give the ONNX file with -o MODEL.onnx", config.ErrUsage)
	}
	opset := c.Int("opset")
	if opset < irtoonnx.MinOpset || opset > irtoonnx.MaxOpset {
		return fmt.Errorf("%w: convert: --opset %d: ovms writes ONNX opsets %d to %d", config.ErrUsage, opset, irtoonnx.MinOpset, irtoonnx.MaxOpset)
	}
	xmlPath := c.Args().First()
	bin := c.String("bin")
	if bin == "" {
		bin = irtoonnx.WeightsPath(xmlPath)
	}
	if abs, err1 := filepath.Abs(out); err1 == nil {
		for _, in := range []string{xmlPath, bin} {
			if a, err2 := filepath.Abs(in); err2 == nil && a == abs {
				return fmt.Errorf("%w: convert: the output %s would overwrite an input", config.ErrUsage, out)
			}
		}
	}
	w := c.App.Writer
	data, res, err := irtoonnx.ConvertFiles(xmlPath, bin, irtoonnx.Options{Opset: int64(opset)})
	var ue *irtoonnx.UntranslatedError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "%s: IR version %d; %d operation(s) cannot be translated to ONNX:\n", xmlPath, ue.IRVersion, len(ue.Layers))
		for _, u := range ue.Layers {
			fmt.Fprintf(w, "  %s\n", u)
		}
		return errorf("convert: %s not converted (%s untranslated)", xmlPath, plural(len(ue.Layers), "operation"))
	}
	if err != nil {
		return errorf("convert: %v", err)
	}
	if err := onnxmodel.WriteBytes(out, data); err != nil {
		return errorf("convert: %v", err)
	}
	printConversion(w, xmlPath, out, opset, len(data), res)
	return nil
}

// printConversion prints what was converted: the files, the inputs and
// outputs, and how many layers of each op were translated.
func printConversion(w io.Writer, xmlPath, out string, opset, size int, res *irtoonnx.Result) {
	total := 0
	for _, n := range res.Ops {
		total += n
	}
	fmt.Fprintf(w, "converted %s to %s (ONNX opset %d, %d bytes, %s translated)\n", xmlPath, out, opset, size, plural(total, "layer"))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, t := range res.Inputs {
		fmt.Fprintf(tw, "  input\t%s\t%s\t[%s]\t%s\n", t.Name, t.Type, t.Shape, strings.Join(t.Names, ","))
	}
	for _, t := range res.Outputs {
		fmt.Fprintf(tw, "  output\t%s\t%s\t[%s]\t%s\n", t.Name, t.Type, t.Shape, strings.Join(t.Names, ","))
	}
	tw.Flush()
	ops := make([]string, 0, len(res.Ops))
	for op := range res.Ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	fmt.Fprintln(w, "ops translated:")
	for _, op := range ops {
		fmt.Fprintf(tw, "  %s\t%d\n", op, res.Ops[op])
	}
	tw.Flush()
}
