// Package config holds the server and model settings of ovms, with OVMS's
// defaults and validation rules: the command-line flags of single-model mode
// now, config.json later. Values are plain structs; parsing helpers turn the
// OVMS string forms (plugin_config JSON, model_version_policy JSON) into them.
package config
