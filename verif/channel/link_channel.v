`timescale 1ns/1ps
// link_channel: simulation-only model of one full-duplex lane between two link ends A
// and B (A = the link TX side, B = the link RX side), as the user interface of a
// transceiver framing core shows it. Plain Verilog-2001, driven by seeded xorshift32
// generators: the same seed and configuration give the same run on either simulator.
// verif/channel/__init__.py (ChannelConfig) computes the inputs.
//
// Per direction (link_lane_dir):
//  - throttling: the sender's ready is low on a cycle with probability idle_thresh/2^32,
//    and for cc_len cycles every cc_period cycles (clock compensation, as Aurora does);
//  - a beat the sender hands over is dropped with probability drop_thresh/2^32;
//  - an error event hits a beat with probability err_thresh/2^32 and flips one bit at a
//    uniform position, and a second one with probability err2_thresh/2^32 (ChannelConfig
//    derives both from a bit error rate: P(>= 1 error in W bits), P(>= 2 | >= 1));
//  - the beat reaches the other end `latency` cycles after it was handed over (>= 1).
// Resets: rst_a / rst_b are high for rst_len cycles from cycle rst_a_at / rst_b_at
// (0: never); the ends' resets are the channel's outputs ORed with the global reset.
module link_channel #(
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
    input [31:0] rst_a_at,
    input [31:0] rst_b_at,
    input [15:0] rst_len,
    input [W-1:0] a_tx_data,
    input a_tx_valid,
    output a_tx_ready,
    output [W-1:0] b_rx_data,
    output b_rx_valid,
    input [W-1:0] b_tx_data,
    input b_tx_valid,
    output b_tx_ready,
    output [W-1:0] a_rx_data,
    output a_rx_valid,
    output reg rst_a,
    output reg rst_b,
    output reg [31:0] cycle,
    output [31:0] flips_ab,
    output [31:0] flips_ba,
    output [31:0] drops_ab,
    output [31:0] drops_ba,
    output [31:0] beats_ab,
    output [31:0] beats_ba
);
    always @(posedge clk) begin
        if (rst) begin
            cycle <= 32'd0;
            rst_a <= 1'b0;
            rst_b <= 1'b0;
        end else begin
            cycle <= cycle + 32'd1;
            rst_a <= rst_a_at != 32'd0 && cycle + 32'd1 >= rst_a_at
                     && cycle + 32'd1 < rst_a_at + {16'd0, rst_len};
            rst_b <= rst_b_at != 32'd0 && cycle + 32'd1 >= rst_b_at
                     && cycle + 32'd1 < rst_b_at + {16'd0, rst_len};
        end
    end

    link_lane_dir #(.W(W), .MAX_LAT(MAX_LAT)) ab (
        .clk(clk), .rst(rst), .seed(seed), .latency(latency), .err_thresh(err_thresh),
        .err2_thresh(err2_thresh), .drop_thresh(drop_thresh), .idle_thresh(idle_thresh),
        .cc_period(cc_period), .cc_len(cc_len), .in_data(a_tx_data), .in_valid(a_tx_valid),
        .in_ready(a_tx_ready), .out_data(b_rx_data), .out_valid(b_rx_valid),
        .flips(flips_ab), .drops(drops_ab), .beats(beats_ab));

    link_lane_dir #(.W(W), .MAX_LAT(MAX_LAT)) ba (
        .clk(clk), .rst(rst), .seed(seed ^ 32'h5bd1e995), .latency(latency),
        .err_thresh(err_thresh), .err2_thresh(err2_thresh), .drop_thresh(drop_thresh),
        .idle_thresh(idle_thresh), .cc_period(cc_period), .cc_len(cc_len),
        .in_data(b_tx_data), .in_valid(b_tx_valid), .in_ready(b_tx_ready),
        .out_data(a_rx_data), .out_valid(a_rx_valid), .flips(flips_ba), .drops(drops_ba),
        .beats(beats_ba));
endmodule
