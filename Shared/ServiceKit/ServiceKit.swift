// The ServiceKit module; its contents land with the foundation work.
