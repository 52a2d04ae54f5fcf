package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newInitCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Prepare the working folder: create the embedded hub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(s)
		},
	}
}

func runInit(s *streams) error {
	_, err := os.Stat(hubFile)
	existed := err == nil
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dataDir, err)
	}
	h, err := openHub(false)
	if err != nil {
		return err
	}
	if err := h.Close(); err != nil {
		return err
	}
	if existed {
		fmt.Fprintf(s.Out, "Using the embedded hub in %s.\n", hubFile)
	} else {
		fmt.Fprintf(s.Out, "Created the embedded hub in %s.\n", hubFile)
	}
	fmt.Fprintln(s.Out, "\niotplan has been successfully initialized!")
	fmt.Fprintln(s.Out, "Run \"iotplan plan\" to see what iotplan would change on the hub.")
	return nil
}
