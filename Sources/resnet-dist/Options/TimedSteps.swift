/// `--steps` and `--warmup-steps` of bench, scaling record and scaling replay: at least one timed
/// step, and at most a million of each, so their sum holds (`--steps 9223372036854775807
/// --warmup-steps 9223372036854775807` trapped adding them).
func requireTimedSteps(_ steps: Int, warmup: Int) throws {
    let most = 1_000_000
    try require((1...most).contains(steps), "--steps must be in 1...\(most.formatted()), got \(steps)")
    try require((0...most).contains(warmup), "--warmup-steps must be in 0...\(most.formatted()), got \(warmup)")
}
