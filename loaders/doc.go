// Package loaders will hold the custom model loader plugins of ovms (the
// equivalent of OVMS's custom_loader_config_list): executables that turn a
// base path and options into model bytes for a device plugin. None exists
// yet; the device contract already accepts model bytes (LoadRequest.ModelBytes).
package loaders
