`timescale 1ns/1ps
// link_lane_dir: one direction of the lane model (see link_channel.v).
module link_lane_dir #(
    parameter W = 64,
    parameter MAX_LAT = 2048
) (
    input clk,
    input rst,
    input [31:0] seed,
    input [15:0] latency,
    input [31:0] err_thresh,
    input [31:0] err2_thresh,
    input [31:0] drop_thresh,
    input [31:0] idle_thresh,
    input [31:0] cc_period,
    input [7:0] cc_len,
    input [W-1:0] in_data,
    input in_valid,
    output in_ready,
    output reg [W-1:0] out_data,
    output reg out_valid,
    output reg [31:0] flips,
    output reg [31:0] drops,
    output reg [31:0] beats
);
    localparam AB = $clog2(MAX_LAT);

    // murmur3's finaliser: a well-mixed, non-zero start for each generator
    function [31:0] mix;
        input [31:0] x;
        reg [31:0] h;
        begin
            h = x ^ (x >> 16);
            h = h * 32'h85ebca6b;
            h = h ^ (h >> 13);
            h = h * 32'hc2b2ae35;
            h = h ^ (h >> 16);
            mix = (h == 32'd0) ? 32'h2545f491 : h;
        end
    endfunction

    function [31:0] xs32;
        input [31:0] x;
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xs32 = y ^ (y << 5);
        end
    endfunction

    reg [31:0] r_err, r_pos1, r_err2, r_pos2, r_drop, r_idle;
    reg [31:0] cc_count;
    reg ready_q;
    reg [W:0] mem [0:MAX_LAT-1];
    reg [AB-1:0] wptr;
    reg [AB-1:0] rptr;
    reg [W-1:0] beat;
    reg [W-1:0] flip1;
    reg [W-1:0] flip2;
    reg take;
    integer i;

    assign in_ready = ready_q;

    always @* begin
        take = in_valid && ready_q && !(r_drop < drop_thresh);
        flip1 = {{(W-1){1'b0}}, (r_err < err_thresh)} << ((r_pos1[15:0] * W) >> 16);
        flip2 = {{(W-1){1'b0}}, (r_err < err_thresh) && (r_err2 < err2_thresh)}
                << ((r_pos2[15:0] * W) >> 16);
        beat = in_data ^ flip1 ^ flip2;
        rptr = wptr - latency[AB-1:0] + {{(AB-1){1'b0}}, 1'b1};
    end

    always @(posedge clk) begin
        if (rst) begin
            r_err <= mix(seed ^ 32'h1b873593);
            r_pos1 <= mix(seed ^ 32'hcc9e2d51);
            r_err2 <= mix(seed ^ 32'he6546b64);
            r_pos2 <= mix(seed ^ 32'h38495ab5);
            r_drop <= mix(seed ^ 32'h7feb352d);
            r_idle <= mix(seed ^ 32'h846ca68b);
            cc_count <= 32'd0;
            ready_q <= 1'b0;
            wptr <= {AB{1'b0}};
            out_valid <= 1'b0;
            out_data <= {W{1'b0}};
            flips <= 32'd0;
            drops <= 32'd0;
            beats <= 32'd0;
            for (i = 0; i < MAX_LAT; i = i + 1)
                mem[i] <= {(W+1){1'b0}};
        end else begin
            r_err <= xs32(r_err);
            r_pos1 <= xs32(r_pos1);
            r_err2 <= xs32(r_err2);
            r_pos2 <= xs32(r_pos2);
            r_drop <= xs32(r_drop);
            r_idle <= xs32(r_idle);
            if (cc_period != 32'd0 && cc_count == cc_period - 32'd1)
                cc_count <= 32'd0;
            else
                cc_count <= cc_count + 32'd1;
            // ready for the next cycle: not an idle draw, not in a clock-compensation gap
            ready_q <= !(xs32(r_idle) < idle_thresh)
                       && !(cc_period != 32'd0 && cc_count + 32'd1 < {24'd0, cc_len});
            if (in_valid && ready_q) begin
                beats <= beats + 32'd1;
                if (r_drop < drop_thresh)
                    drops <= drops + 32'd1;
                else if (r_err < err_thresh)
                    flips <= flips + ((r_err2 < err2_thresh) ? 32'd2 : 32'd1);
            end
            mem[wptr] <= {take, beat};
            wptr <= wptr + {{(AB-1){1'b0}}, 1'b1};
            if (latency <= 16'd1) begin
                out_valid <= take;
                out_data <= beat;
            end else begin
                out_valid <= mem[rptr][W];
                out_data <= mem[rptr][W-1:0];
            end
        end
    end
endmodule
