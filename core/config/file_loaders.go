package config

import (
	"encoding/json"
	"fmt"
	"strings"
)

// CustomLoader is a model's custom loader (OVMS's custom_loader_options
// with the custom_loader_config_list entry it names): the model's version
// files come from the loader plugin instead of being read from base_path.
// A change of any field reloads the model.
type CustomLoader struct {
	// Name is loader_name.
	Name string
	// Library is library_path: the loader's executable, a folder holding
	// it (ovms-loader-<name>), or a bare name looked up in the plugin
	// folders. Relative paths are resolved against the config file's
	// folder.
	Library string
	// ConfigFile is loader_config_file, resolved like Library; "" for none.
	ConfigFile string
	// Options is the model's custom_loader_options as a JSON object
	// (loader_name included), handed to the loader as is.
	Options string
}

// loaderEntry is one custom_loader_config_list[i].
type loaderEntry struct {
	Config struct {
		LoaderName       string `json:"loader_name"`
		LibraryPath      string `json:"library_path"`
		LoaderConfigFile string `json:"loader_config_file"`
	} `json:"config"`
}

// customLoaders indexes custom_loader_config_list by name, paths resolved
// against dir; a repeated name is a warning and the first entry wins.
func (d *fileDoc) customLoaders(dir string, warn func(path, format string, args ...any)) map[string]CustomLoader {
	out := map[string]CustomLoader{}
	for i, e := range d.CustomLoaderConfigList {
		c := e.Config
		if _, dup := out[c.LoaderName]; dup {
			warn(fmt.Sprintf("/custom_loader_config_list/%d/config/loader_name", i), "custom loader %q is defined more than once; the first definition is used", c.LoaderName)
			continue
		}
		l := CustomLoader{Name: c.LoaderName, Library: resolveLibrary(c.LibraryPath, dir)}
		if c.LoaderConfigFile != "" {
			l.ConfigFile = ResolveBasePath(c.LoaderConfigFile, dir)
		}
		out[c.LoaderName] = l
	}
	return out
}

// resolveLibrary resolves library_path: a path (with a slash) against dir,
// a bare name kept for the plugin folders' lookup.
func resolveLibrary(p, dir string) string {
	if strings.ContainsRune(p, '/') || p == "." || p == ".." {
		return ResolveBasePath(p, dir)
	}
	return p
}

// customLoader applies a model's custom_loader_options: the named loader
// must be listed in custom_loader_config_list, and allow_cache must not be
// set (as OVMS refuses).
func (c *modelEntry) customLoader(m *Model, loaders map[string]CustomLoader, bad func(key, format string, args ...any)) {
	if c.CustomLoaderOptions == nil {
		return
	}
	name, _ := c.CustomLoaderOptions["loader_name"].(string)
	l, ok := loaders[name]
	if !ok {
		bad("/custom_loader_options/loader_name", "Model config is invalid - custom loader %q is not in custom_loader_config_list", name)
	}
	if c.AllowCache != nil && *c.AllowCache {
		bad("/allow_cache", "allow_cache is set to true with custom loader usage")
	}
	if !ok {
		return
	}
	l.Options = sortedJSON(c.CustomLoaderOptions)
	m.CustomLoader = &l
}

// sortedJSON renders an options object with its keys sorted, at every
// level, as encoding/json does for maps (stable for change detection).
func sortedJSON(o map[string]any) string {
	b, err := json.Marshal(o) // values decoded from JSON always encode
	if err != nil {
		return "{}"
	}
	return string(b)
}
