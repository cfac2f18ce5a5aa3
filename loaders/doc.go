// Package loaders holds the custom model loader plugins of ovms (the
// equivalent of OVMS's custom_loader_config_list): executables,
// ovms-loader-<name>, that turn a model version into model files in memory
// for a device plugin, written against plugins/loader.
//
//   - loaders/example: the documented minimal loader (files as they are;
//     versions retired by an enable_file saying DISABLED);
//   - loaders/aesgcm: AES-256-GCM encrypted model files, decrypted in
//     memory only, with a key from a file or an environment variable.
//
// docs/custom-loaders.md describes the contract and how to write one.
package loaders
