//go:build !unix

package storageservers

import "os/exec"

// setProcessGroup does nothing: without process groups only the child
// itself is stopped.
func setProcessGroup(*exec.Cmd) {}

// terminate kills the child.
func terminate(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// kill kills the child.
func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

// killGroup does nothing.
func killGroup(*exec.Cmd) {}
