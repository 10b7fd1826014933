"""The compiler's passes, one per module, run in sequence by ``rtl_gen.compiler.compile``:

``without_forks`` (spec -> spec: explicit Fork layers removed), then on the pipeline IR
(``rtl_gen.compiler.ir``): ``lower`` (layers -> blocks, through the layer-kind registry),
``insert_forks`` (a fork tree wherever a stream has several readers),
``insert_width_converters`` (wherever a producer's lanes differ from its reader's) and
``size_skip_fifos`` (a FIFO sized by analysis on the shorter branch of every residual
join). Each IR pass takes a pipeline and returns it.
"""
