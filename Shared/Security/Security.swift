// The Security module; its contents land with the foundation work.
