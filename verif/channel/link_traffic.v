`timescale 1ns/1ps
// link_traffic: simulation-only stream source and checker for long link runs, with no
// Python per clock. The source offers beats of a seeded pseudo-random stream (D data
// bits and tlast, an image ends after a beat with probability last_thresh/2^32) with
// input gaps (probability gap_thresh/2^32 per cycle); the checker regenerates the same
// stream with its own generator and compares every delivered beat, taking beats with
// random backpressure (ready low with probability stall_thresh/2^32). Counters: beats
// sent and delivered, mismatches and the index of the first one, and the latency of
// every beat (cycles from its transfer into the link TX to its transfer out of the RX:
// sum, minimum, maximum), from a timestamp ring of 2^TS_BITS entries; the cycles of the
// first transfer in and the last transfer out (for goodput).
module link_traffic #(
    parameter D = 64,
    parameter TS_BITS = 14
) (
    input clk,
    input rst,
    input enable,
    input [31:0] seed,
    input [31:0] last_thresh,
    input [31:0] gap_thresh,
    input [31:0] stall_thresh,
    input [31:0] max_beats,      // the source stops after this many beats (0: never)
    output [D-1:0] s_tdata,
    output s_tlast,
    output reg s_tvalid,
    input s_tready,
    input [D-1:0] m_tdata,
    input m_tlast,
    input m_tvalid,
    output reg m_tready,
    output reg [31:0] sent,
    output reg [31:0] delivered,
    output reg [31:0] images,
    output reg [31:0] mismatches,
    output reg [31:0] first_bad,
    output reg [63:0] lat_sum,
    output reg [31:0] lat_min,
    output reg [31:0] lat_max,
    output reg [31:0] t_first_in,
    output reg [31:0] t_last_out
);
    function [31:0] xs32;
        input [31:0] x;
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xs32 = y ^ (y << 5);
        end
    endfunction

    reg [31:0] r_gap, r_stall, now;
    reg [31:0] stamp [0:(1 << TS_BITS) - 1];
    wire [D-1:0] exp_data;
    wire exp_last;
    wire s_fire = s_tvalid && s_tready;
    wire m_fire = m_tvalid && m_tready;
    wire [31:0] lat = now - stamp[delivered[TS_BITS-1:0]];

    link_stream_rng #(.D(D)) gen_src (.clk(clk), .rst(rst), .seed(seed),
        .last_thresh(last_thresh), .advance(s_fire), .data(s_tdata), .last(s_tlast));
    link_stream_rng #(.D(D)) gen_chk (.clk(clk), .rst(rst), .seed(seed),
        .last_thresh(last_thresh), .advance(m_fire), .data(exp_data), .last(exp_last));

    always @(posedge clk) begin
        if (rst) begin
            r_gap <= seed ^ 32'h9e3779b9;
            r_stall <= seed ^ 32'h7f4a7c15;
            now <= 32'd0;
            s_tvalid <= 1'b0;
            m_tready <= 1'b0;
            sent <= 32'd0;
            delivered <= 32'd0;
            images <= 32'd0;
            mismatches <= 32'd0;
            first_bad <= 32'hffffffff;
            lat_sum <= 64'd0;
            lat_min <= 32'hffffffff;
            lat_max <= 32'd0;
            t_first_in <= 32'd0;
            t_last_out <= 32'd0;
        end else begin
            now <= now + 32'd1;
            r_gap <= xs32(r_gap | 32'd1);
            r_stall <= xs32(r_stall | 32'd1);
            if (s_fire) begin
                sent <= sent + 32'd1;
                if (sent == 32'd0)
                    t_first_in <= now;
                stamp[sent[TS_BITS-1:0]] <= now;
            end
            // valid holds until the transfer (the stream contract)
            if (!s_tvalid || s_fire)
                s_tvalid <= enable && !(r_gap < gap_thresh)
                            && (max_beats == 32'd0 || sent + {31'd0, s_fire} < max_beats);
            m_tready <= enable && !(r_stall < stall_thresh);
            if (m_fire) begin
                delivered <= delivered + 32'd1;
                t_last_out <= now;
                if (m_tlast)
                    images <= images + 32'd1;
                if (m_tdata != exp_data || m_tlast != exp_last) begin
                    mismatches <= mismatches + 32'd1;
                    if (mismatches == 32'd0)
                        first_bad <= delivered;
                end
                lat_sum <= lat_sum + {32'd0, lat};
                if (lat < lat_min)
                    lat_min <= lat;
                if (lat > lat_max)
                    lat_max <= lat;
            end
        end
    end
endmodule
