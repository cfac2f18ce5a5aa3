package config

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// fileDoc is config.json after schema validation (types are those the
// schema allows; numbers arrive as float64).
type fileDoc struct {
	ModelConfigList []struct {
		Config modelEntry `json:"config"`
	} `json:"model_config_list"`
	PipelineConfigList          []pipelineEntry    `json:"pipeline_config_list"`
	CustomNodeLibraryConfigList []nodeLibraryEntry `json:"custom_node_library_config_list"`
	CustomLoaderConfigList      []loaderEntry      `json:"custom_loader_config_list"`
	MediapipeConfigList         []struct {
		Name string `json:"name"`
	} `json:"mediapipe_config_list"`
	Monitoring *struct {
		Metrics struct {
			Enable      bool     `json:"enable"`
			MetricsList []string `json:"metrics_list"`
		} `json:"metrics"`
	} `json:"monitoring"`
}

// modelEntry is one model_config_list[i].config.
type modelEntry struct {
	Name                     string         `json:"name"`
	BasePath                 *string        `json:"base_path"`
	BatchSize                any            `json:"batch_size"`
	Shape                    any            `json:"shape"`
	Layout                   any            `json:"layout"`
	ModelVersionPolicy       map[string]any `json:"model_version_policy"`
	Nireq                    *float64       `json:"nireq"`
	TargetDevice             *string        `json:"target_device"`
	AllowCache               *bool          `json:"allow_cache"`
	PluginConfig             map[string]any `json:"plugin_config"`
	Stateful                 *bool          `json:"stateful"`
	IdleSequenceCleanup      *bool          `json:"idle_sequence_cleanup"`
	LowLatencyTransformation *bool          `json:"low_latency_transformation"`
	MaxSequenceNumber        *float64       `json:"max_sequence_number"`
	GraphPath                *string        `json:"graph_path"`
	Subconfig                *string        `json:"subconfig"`
	CustomLoaderOptions      map[string]any `json:"custom_loader_options"`
	DynamicBatching          map[string]any `json:"dynamic_batching"`
	StateMapping             map[string]any `json:"state_mapping"`
}

// maxNireq is OVMS's bound on nireq.
const maxNireq = 100000

// apply turns the document into f's models, skipping entries that fail the
// semantic checks (each a Problem) and noting accepted-but-inert settings.
func (d *fileDoc) apply(f *File, dir string) {
	pipelines := map[string]bool{} // graph names a model may not take
	for _, m := range d.MediapipeConfigList {
		pipelines[m.Name] = true
	}
	warn := func(path, format string, args ...any) {
		f.Warnings = append(f.Warnings, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	loaders := d.customLoaders(dir, warn)
	if len(d.MediapipeConfigList) > 0 {
		warn("/mediapipe_config_list", "MediaPipe graphs are not served by ovms; %d graph(s) ignored", len(d.MediapipeConfigList))
	}
	var libProblems []Problem
	f.NodeLibraries, libProblems = nodeLibraries(d.CustomNodeLibraryConfigList, dir)
	f.Problems = append(f.Problems, libProblems...)
	if d.Monitoring != nil {
		f.Monitoring = &Monitoring{Enable: d.Monitoring.Metrics.Enable, List: d.Monitoring.Metrics.MetricsList}
	}
	seen := map[string]bool{}
	for i, e := range d.ModelConfigList {
		path := fmt.Sprintf("/model_config_list/%d/config", i)
		c := e.Config
		switch {
		case seen[c.Name]:
			// OVMS: the first definition wins (MODEL_NAME_OCCUPIED).
			f.Problems = append(f.Problems, Problem{Path: path + "/name", Message: fmt.Sprintf(
				"Given model name is already occupied - Duplicated model names: %s defined in config file. Only first definition will be loaded.", c.Name)})
			continue
		case pipelines[c.Name]:
			f.Problems = append(f.Problems, Problem{Path: path + "/name", Message: fmt.Sprintf(
				"Given model name is already occupied - a pipeline or graph is also named %s", c.Name)})
			continue
		}
		m, problems, warnings := c.model(path, dir, loaders)
		f.Warnings = append(f.Warnings, warnings...)
		if len(problems) > 0 {
			f.Problems = append(f.Problems, problems...)
			continue
		}
		seen[c.Name] = true
		f.Models = append(f.Models, m)
	}
	applyPipelines(d.PipelineConfigList, f, seen, warn)
}

// model checks one entry and builds its Model.
func (c *modelEntry) model(path, dir string, loaders map[string]CustomLoader) (Model, []Problem, []Problem) {
	m := DefaultModel()
	m.Name = c.Name
	var problems, warnings []Problem
	bad := func(key, format string, args ...any) {
		problems = append(problems, Problem{Path: path + key, Message: fmt.Sprintf(format, args...)})
	}
	warn := func(key, format string, args ...any) {
		warnings = append(warnings, Problem{Path: path + key, Message: fmt.Sprintf(format, args...)})
	}
	if c.Name == "" {
		bad("/name", "Model config is invalid - a model needs a non-empty name")
	}
	if c.BasePath == nil || *c.BasePath == "" {
		bad("/base_path", "The provided base path is invalid or doesn't exists - model %s has no base_path", c.Name)
	} else {
		m.BasePath = ResolveBasePath(*c.BasePath, dir)
	}
	if c.TargetDevice != nil {
		m.TargetDevice = *c.TargetDevice
	}
	if c.Nireq != nil {
		if *c.Nireq > maxNireq {
			bad("/nireq", "Nireq parameter too high - %s exceeds %d", strconv.FormatFloat(*c.Nireq, 'f', -1, 64), maxNireq)
		}
		m.Nireq = int(*c.Nireq)
	}
	if c.ModelVersionPolicy != nil {
		p, err := ParseVersionPolicy(jsonText(c.ModelVersionPolicy))
		if err != nil {
			bad("/model_version_policy", "Model version policy is in wrong format - %v", err)
		}
		m.VersionPolicy = p
	}
	if c.PluginConfig != nil {
		pc, err := PluginConfigStrings(c.PluginConfig)
		if err != nil {
			bad("/plugin_config", "Plugin config is in wrong format - %v", err)
		}
		m.PluginConfig = pc
	}
	if c.BatchSize != nil {
		switch b := c.BatchSize.(type) {
		case float64:
			m.BatchSize = strconv.FormatFloat(b, 'f', -1, 64)
		case string:
			if _, err := strconv.Atoi(b); err != nil && b != "auto" {
				warn("/batch_size", "Wrong batch size parameter provided. Model batch size will be set to default.")
			} else {
				m.BatchSize = b
			}
		}
	}
	if c.Shape != nil {
		m.Shape = shapeText(c.Shape)
		if _, _, err := ParseShape(m.Shape); err != nil {
			// OVMS only warns: the model loads without the reshape.
			warn("/shape", "%v; the model keeps its own shape", err)
			m.Shape = ""
		}
		if c.BatchSize != nil {
			warn("/batch_size", "Both shape and batch size have been defined. Batch size parameter will be ignored.")
			m.BatchSize = ""
		}
	}
	if c.Layout != nil {
		m.Layout = shapeText(c.Layout)
		if _, err := ParseLayout(m.Layout); err != nil {
			bad("/layout", "%v", err)
		}
	}
	if c.Stateful == nil || !*c.Stateful {
		for key, set := range map[string]bool{
			"/idle_sequence_cleanup": c.IdleSequenceCleanup != nil, "/low_latency_transformation": c.LowLatencyTransformation != nil,
			"/max_sequence_number": c.MaxSequenceNumber != nil, "/state_mapping": c.StateMapping != nil,
		} {
			if set {
				bad(key, "Stateful model config parameter used for non stateful model")
			}
		}
	} else {
		m.Stateful = true
		if c.IdleSequenceCleanup != nil {
			m.IdleSequenceCleanup = *c.IdleSequenceCleanup
		}
		if c.LowLatencyTransformation != nil {
			m.LowLatencyTransformation = *c.LowLatencyTransformation
		}
		if c.MaxSequenceNumber != nil && *c.MaxSequenceNumber <= math.MaxUint32 {
			m.MaxSequenceNumber = uint32(*c.MaxSequenceNumber)
		}
		if m.BatchSize == "auto" || m.Shape == "auto" || strings.Contains(m.Shape, `"auto"`) {
			bad("/stateful", "Dynamic shape and dynamic batch size are not supported for stateful models")
		}
		if c.DynamicBatching != nil {
			bad("/dynamic_batching", "Model config is invalid - dynamic batching cannot gather the requests of stateful models")
		}
		if c.StateMapping != nil {
			sm := make(map[string]string, len(c.StateMapping))
			for k, v := range c.StateMapping {
				s, ok := v.(string)
				if !ok {
					bad("/state_mapping/"+k, "Model config is invalid - state_mapping values are output names (strings)")
				}
				sm[k] = s
			}
			if err := checkStateMapping(sm); err != nil {
				bad("/state_mapping", "Model config is invalid - %v", err)
			}
			m.StateMapping = sm
		}
	}
	if c.MaxSequenceNumber != nil && *c.MaxSequenceNumber > math.MaxUint32 {
		bad("/max_sequence_number", "Sequence max number parameter too high")
	}
	c.customLoader(&m, loaders, bad)
	if c.GraphPath != nil || c.Subconfig != nil {
		bad("/graph_path", "Functionality not implemented - MediaPipe graphs are not served by ovms")
	}
	if c.DynamicBatching != nil {
		db, err := ParseDynamicBatching(jsonText(c.DynamicBatching))
		if err != nil {
			bad("/dynamic_batching", "Model config is invalid - %v", err)
		}
		m.DynamicBatching = db
	}
	sortProblems(problems)
	sortProblems(warnings)
	return m, problems, warnings
}

// shapeText keeps a shape or layout as OVMS's string form, or as JSON for
// the per-input object form.
func shapeText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonText(v)
}

// ResolveBasePath makes a local relative base path absolute against dir
// (the config file's folder); cloud URLs and absolute paths stay.
func ResolveBasePath(p, dir string) string {
	if strings.Contains(p, "://") || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func sortProblems(ps []Problem) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Path < ps[j-1].Path; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
