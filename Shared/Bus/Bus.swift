// The Bus module; its contents land with the foundation work.
