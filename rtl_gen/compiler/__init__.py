"""The network compiler: spec -> folding -> cycle model -> pipeline of blocks -> RTL."""
