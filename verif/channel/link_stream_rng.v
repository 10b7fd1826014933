`timescale 1ns/1ps
// link_stream_rng: the pseudo-random stream of link_traffic.v: beat n's data and tlast,
// advancing on each transfer.
module link_stream_rng #(
    parameter D = 64
) (
    input clk,
    input rst,
    input [31:0] seed,
    input [31:0] last_thresh,
    input advance,
    output [D-1:0] data,
    output last
);
    localparam NW = (D + 31) / 32;

    function [31:0] xs32;
        input [31:0] x;
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xs32 = y ^ (y << 5);
        end
    endfunction

    reg [32*NW-1:0] state;
    reg [31:0] r_last;
    integer i;

    assign data = state[D-1:0];
    assign last = r_last < last_thresh;

    always @(posedge clk) begin
        if (rst) begin
            for (i = 0; i < NW; i = i + 1)
                state[32*i +: 32] <= (seed ^ (32'h632be5ab * (i + 1))) | 32'd1;
            r_last <= (seed ^ 32'h2545f491) | 32'd1;
        end else if (advance) begin
            for (i = 0; i < NW; i = i + 1)
                state[32*i +: 32] <= xs32(state[32*i +: 32]);
            r_last <= xs32(r_last);
        end
    end
endmodule
