// The Store module; its contents land with the foundation work.
