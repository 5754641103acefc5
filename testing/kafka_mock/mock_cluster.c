/*
 * A Kafka-protocol cluster for tests: librdkafka's mock cluster (the broker side librdkafka's own
 * test suite uses), started on loopback and steered over stdin.
 *
 * Build: cc -O2 -o mock_cluster mock_cluster.c -lrdkafka
 * Run:   mock_cluster [brokers]   prints "bootstrap <host:port,...>", then answers one line per
 *        command with "ok" or "error <message>":
 *   topic <name> <partitions>            create a topic (the mock has no CreateTopics API)
 *   leader <topic> <partition> <broker>  move a partition's leader
 *   down <broker> | up <broker>          refuse / accept a broker's connections (-1: all)
 *   error <api key> <count> <code>       fail the next <count> requests of an API with <code>
 *   quit                                 stop (end of input stops it too)
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
    printf("ok\n");
  else
    printf("error %s\n", rd_kafka_err2str(err));
  fflush(stdout);
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "%s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "%s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    fprintf(stderr, "could not start the mock cluster\n");
    return 1;
  }
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  fflush(stdout);

  char line[1024], name[512];
  while (fgets(line, sizeof(line), stdin)) {
    int a, b, c;
    if (sscanf(line, "topic %511s %d", name, &a) == 2) {
      reply(rd_kafka_mock_topic_create(cluster, name, a, 1));
    } else if (sscanf(line, "leader %511s %d %d", name, &a, &b) == 3) {
      reply(rd_kafka_mock_partition_set_leader(cluster, name, a, b));
    } else if (sscanf(line, "down %d", &a) == 1) {
      reply(rd_kafka_mock_broker_set_down(cluster, a));
    } else if (sscanf(line, "up %d", &a) == 1) {
      reply(rd_kafka_mock_broker_set_up(cluster, a));
    } else if (sscanf(line, "error %d %d %d", &a, &b, &c) == 3 && b > 0 && b <= 64) {
      rd_kafka_resp_err_t errors[64];
      for (int i = 0; i < b; i++) errors[i] = (rd_kafka_resp_err_t)c;
      rd_kafka_mock_push_request_errors_array(cluster, (int16_t)a, (size_t)b, errors);
      reply(RD_KAFKA_RESP_ERR_NO_ERROR);
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      printf("error unknown command\n");
      fflush(stdout);
    }
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
