"""The simulated patient: left ventricle, aortic valve, Windkessel and balloon, stepped once per 1 ms tick."""
